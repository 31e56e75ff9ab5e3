package overlay

import (
	"net"
	"net/netip"
	"testing"
)

// BenchmarkPrivilegedEnsure is the cost of Ensure on a device that is
// already right: what a reconcile pass pays per overlay network.
func BenchmarkPrivilegedEnsure(b *testing.B) {
	x := newLab(b, 1)[0]
	c := x.config()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Ensure(x.h, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrivilegedAddRemote is the cost of programming one remote
// endpoint (new entries each time, up to 4096 of them, then replaced).
func BenchmarkPrivilegedAddRemote(b *testing.B) {
	x := newLab(b, 1)[0]
	vtep := netip.MustParseAddr("10.99.0.2")
	i := 0
	b.ResetTimer()
	for b.Loop() {
		n := i % 4096
		r := Remote{
			MAC:  net.HardwareAddr{0x02, 0xd0, 0, 0, byte(n >> 8), byte(n)},
			IP:   netip.AddrFrom4([4]byte{10, 200, 16 + byte(n>>8), byte(n)}),
			VTEP: vtep,
		}
		if err := AddRemote(x.h, labVX, r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
