package overlay

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/testutil"
)

// The lab: an "underlay" namespace holding a bridge, and per host a
// namespace with a veth into that bridge (10.99.0.N/24), the overlay bridge
// br0 holding the distributed gateway 10.200.0.1/24, the VXLAN device (VNI
// labVNI) on it, and a "container" namespace on br0 at 10.200.0.(N+1).
const (
	labVNI  = 4242
	labVX   = "vx-lab"
	labBr   = "br0"
	labGW   = "10.200.0.1"
	labUMTU = 1500
)

type labHost struct {
	ns, ctr  string
	h        *netlink.Handle
	underlay netip.Addr
	brMAC    net.HardwareAddr
	ip       netip.Addr
	mac      net.HardwareAddr
}

// remote is this host's container as the other hosts program it.
func (x *labHost) remote() Remote { return Remote{MAC: x.mac, IP: x.ip, VTEP: x.underlay} }

func (x *labHost) config() Config {
	return Config{Name: labVX, VNI: labVNI, Local: x.underlay, Bridge: labBr}
}

// newLab builds n hosts on one underlay, each with its VXLAN device made by
// Ensure; no remotes are programmed.
func newLab(t testing.TB, n int) []*labHost {
	t.Helper()
	u := testutil.NewNetNS(t)
	testutil.Run(t, "ip", "-n", u, "link", "add", "ubr", "type", "bridge")
	testutil.Run(t, "ip", "-n", u, "link", "set", "ubr", "up")
	hosts := make([]*labHost, n)
	for i := range hosts {
		hosts[i] = newLabHost(t, u, i+1)
	}
	return hosts
}

func newLabHost(t testing.TB, u string, i int) *labHost {
	t.Helper()
	x := &labHost{
		ns:       testutil.NewNetNS(t),
		ctr:      testutil.NewNetNS(t),
		underlay: netip.MustParseAddr(fmt.Sprintf("10.99.0.%d", i)),
		brMAC:    net.HardwareAddr{0x02, 0xb0, 0, 0, 0, byte(i)},
		ip:       netip.MustParseAddr(fmt.Sprintf("10.200.0.%d", i+1)),
		mac:      net.HardwareAddr{0x02, 0xc0, 0, 0, 0, byte(i)},
	}
	x.h = handleIn(t, x.ns)
	port := fmt.Sprintf("u%d", i)
	run := func(ns string, args ...string) { testutil.Run(t, "ip", append([]string{"-n", ns}, args...)...) }
	run(u, "link", "add", port, "mtu", fmt.Sprint(labUMTU), "type", "veth", "peer", "name", "eth0", "netns", x.ns)
	run(u, "link", "set", port, "master", "ubr", "up")
	run(x.ns, "addr", "add", x.underlay.String()+"/24", "dev", "eth0")
	run(x.ns, "link", "set", "eth0", "up")
	// Distinct bridge MACs (plumb's are equal everywhere): a gateway ARP
	// answered by another host would show in the container's cache.
	run(x.ns, "link", "add", labBr, "address", x.brMAC.String(), "mtu", "1450", "type", "bridge")
	run(x.ns, "addr", "add", labGW+"/24", "dev", labBr)
	run(x.ns, "link", "set", labBr, "up")
	run(x.ns, "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", x.ctr,
		"address", x.mac.String(), "mtu", "1450")
	run(x.ns, "link", "set", "veth0", "master", labBr, "up")
	run(x.ctr, "link", "set", "eth0", "addrgenmode", "none")
	run(x.ctr, "addr", "add", x.ip.String()+"/24", "dev", "eth0")
	run(x.ctr, "link", "set", "eth0", "up")
	run(x.ctr, "route", "add", "default", "via", labGW)
	if _, err := Ensure(x.h, x.config()); err != nil {
		t.Fatal(err)
	}
	return x
}

// handleIn opens a netlink handle in the named namespace, closed at cleanup.
func handleIn(t testing.TB, name string) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(nsHandle(t, name), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// nsHandle opens the named namespace, closed at cleanup.
func nsHandle(t testing.TB, name string) netns.NsHandle {
	t.Helper()
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// program adds every other host's container on every host.
func program(t testing.TB, hosts []*labHost) {
	t.Helper()
	for _, x := range hosts {
		for _, y := range hosts {
			if x != y {
				if err := AddRemote(x.h, labVX, y.remote()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// pings reports whether one ping from the container of x to ip is answered.
func pings(x *labHost, ip string) bool {
	_, err := testutil.InNS(x.ctr, "ping", "-c", "1", "-W", "1", ip)
	return err == nil
}

// reaches waits until the container of x reaches ip.
func reaches(t testing.TB, x *labHost, ip netip.Addr) {
	t.Helper()
	testutil.WaitFor(t, fmt.Sprintf("%s to reach %s", x.ip, ip), func() bool { return pings(x, ip.String()) })
}

// vxStats returns the VXLAN device's packet counters on x.
func vxStats(t testing.TB, x *labHost) (rx, tx uint64) {
	t.Helper()
	l, err := x.h.LinkByName(labVX)
	if err != nil {
		t.Fatal(err)
	}
	s := l.Attrs().Statistics
	return s.RxPackets, s.TxPackets
}

// gatewayMAC is the MAC the container of x has for the gateway.
func gatewayMAC(t testing.TB, x *labHost) string {
	t.Helper()
	out, err := testutil.InNS(x.ctr, "ip", "neigh", "show", labGW)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	f := strings.Fields(out)
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}
