package explain

import (
	"net"
	"net/netip"
	"testing"
)

// TestProbeUDPSilent: a UDP listener that never answers gives no ICMP
// error: the probe says reachable (inconclusive), which agrees with a
// reachable verdict; a closed port's ICMP error says no listener.
func TestProbeUDPSilent(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback UDP:", err)
	}
	addr := netip.MustParseAddrPort(c.LocalAddr().String())
	p := probe("udp", addr)
	if p.Result != Reachable || !p.silent {
		t.Errorf("silent listener: %+v, want reachable, silent", p)
	}
	c.Close()
	if p := probe("udp", addr); p.Result != NoListener {
		t.Errorf("closed port: %+v, want no listener", p)
	}
}
