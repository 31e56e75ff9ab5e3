package iptables

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// The IPv6 traffic tests build, in throwaway namespaces, a host (the
// Firewall's namespace) with plumb-like bridges and containers behind
// them, and an "outside" namespace linked to the host by a veth pair:
//
//	outside 2001:db8:1::2/64 --- vo0 2001:db8:1::1/64  host  br6a fd00:a::1/64 --- ctr fd00:a::2, ...
//
// the outside routes everything via the host, so it can try the
// containers' own addresses. Addresses are nodad: usable at once.

// topo6 is that world.
type topo6 struct {
	host, out string
	n         int // veths made
}

const outsideIP, hostOutIP = "2001:db8:1::2", "2001:db8:1::1"

func newTopo6(t *testing.T, host string) *topo6 {
	t.Helper()
	tp := &topo6{host: host, out: testutil.NewNetNS(t)}
	for _, args := range [][]string{
		{"ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"},
		{"ip", "-n", host, "link", "add", "vo0", "type", "veth", "peer", "name", "eth0", "netns", tp.out},
		{"ip", "-n", host, "addr", "add", hostOutIP + "/64", "dev", "vo0", "nodad"},
		{"ip", "-n", host, "link", "set", "vo0", "up"},
		{"ip", "-n", tp.out, "addr", "add", outsideIP + "/64", "dev", "eth0", "nodad"},
		{"ip", "-n", tp.out, "link", "set", "eth0", "up"},
		{"ip", "-n", tp.out, "-6", "route", "add", "default", "via", hostOutIP},
	} {
		testutil.Run(t, args[0], args[1:]...)
	}
	return tp
}

// bridge makes bridge br in the host with gateway gw (a /64).
func (tp *topo6) bridge(t *testing.T, br, gw string) {
	t.Helper()
	for _, args := range [][]string{
		{"ip", "-n", tp.host, "link", "add", br, "type", "bridge"},
		{"ip", "-n", tp.host, "addr", "add", gw + "/64", "dev", br, "nodad"},
		{"ip", "-n", tp.host, "link", "set", br, "up"},
	} {
		testutil.Run(t, args[0], args[1:]...)
	}
}

// container makes a namespace behind br with address addr (a /64) and
// its default route via gw, and returns its name.
func (tp *topo6) container(t *testing.T, br, addr, gw string) string {
	t.Helper()
	ctr := testutil.NewNetNS(t)
	tp.n++
	veth := "vc" + string(rune('a'+tp.n))
	for _, args := range [][]string{
		{"ip", "-n", tp.host, "link", "add", veth, "master", br, "type", "veth", "peer", "name", "eth0", "netns", ctr},
		{"ip", "-n", tp.host, "link", "set", veth, "up"},
		{"ip", "-n", ctr, "addr", "add", addr + "/64", "dev", "eth0", "nodad"},
		{"ip", "-n", ctr, "link", "set", "eth0", "up"},
		{"ip", "-n", ctr, "-6", "route", "add", "default", "via", gw},
	} {
		testutil.Run(t, args[0], args[1:]...)
	}
	return ctr
}

// serve6 answers every connection to addr in namespace ns with "WHO saw
// SOURCE" (the source address it sees) until cleanup.
func serve6(t *testing.T, ns, addr, who string) {
	t.Helper()
	var ln net.Listener
	inNS(t, ns, func() (err error) { ln, err = net.Listen("tcp6", addr); return })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			src := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
			c.Write([]byte(who + " saw " + src.String()))
			c.Close()
		}
	}()
}

// dial6 connects from ns to addr and returns what the server said, ""
// when it cannot connect within a second.
func dial6(t *testing.T, ns, addr string) string {
	t.Helper()
	var got string
	inNS(t, ns, func() error {
		c, err := net.DialTimeout("tcp6", addr, time.Second)
		if err != nil {
			return nil
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 128)
		n, _ := c.Read(buf)
		got = string(buf[:n])
		return nil
	})
	return got
}

// reaches waits until a dial from ns to addr gets want (the positive
// control every "cannot reach" check stands on).
func reaches(t *testing.T, ns, addr, want string) {
	t.Helper()
	last := ""
	testutil.WaitFor(t, ns+" reaching "+addr+" ("+want+")", func() bool { last = dial6(t, ns, addr); return last == want })
}

// save6In is saveIn for ip6tables-save.
func save6In(t *testing.T, name string) string {
	t.Helper()
	out, err := testutil.InNS(name, "ip6tables-save")
	if err != nil {
		t.Fatalf("ip6tables-save in %s: %v\n%s", name, err, out)
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			keep = append(keep, counterRE.ReplaceAllString(l, "[0:0]"))
		}
	}
	return strings.Join(keep, "\n")
}

// TestPrivilegedIPv6NAT: an IPv6-only network in gateway mode nat. The
// outside sees a container's connection from the host's address
// (NAT66); it reaches a published port at the host's address (DNAT), not
// the container's own address; the host reaches the port at its own
// address too, while [::1]:PORT is left to whatever listens on the host
// (the daemon's proxy); and the last DeleteNetwork leaves ip6tables-save
// and iptables-save as they were.
func TestPrivilegedIPv6NAT(t *testing.T) {
	host, fw, _ := setup(t)
	before, before6 := saveIn(t, host), save6In(t, host)
	tp := newTopo6(t, host)
	tp.bridge(t, "br6a", "fd00:a::1")
	ctr := tp.container(t, "br6a", "fd00:a::2", "fd00:a::1")
	peer := tp.container(t, "br6a", "fd00:a::3", "fd00:a::1")
	a := testNetOnly6("a", "br6a", "fd00:a::/64")
	cleanupNets(t, host, fw, a)
	serve6(t, tp.out, "["+outsideIP+"]:9000", "outside")
	serve6(t, ctr, "[fd00:a::2]:80", "ctr")
	serve6(t, host, "[::1]:8080", "host-proxy")

	inNS(t, host, func() error { return fw.EnsureNetwork(a) })
	reaches(t, ctr, "["+outsideIP+"]:9000", "outside saw "+hostOutIP)

	p := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:a::2"), ContainerPort: 80}}
	inNS(t, host, func() error { return fw.AddPorts(a, "e1", p) })
	reaches(t, tp.out, "["+hostOutIP+"]:8080", "ctr saw "+outsideIP)
	reaches(t, host, "["+hostOutIP+"]:8080", "ctr saw "+hostOutIP)
	if got := dial6(t, host, "[::1]:8080"); got != "host-proxy saw ::1" {
		t.Errorf("the host's [::1]:8080 was DNATed away from its own listener: %q", got)
	}
	if got := dial6(t, tp.out, "[fd00:a::2]:80"); got != "" {
		t.Errorf("nat mode: the outside reached the container's own address: %q", got)
	}
	// Hairpin: a container of the network reaches the port through the
	// host's address, masqueraded so that the answer comes back the same way.
	reaches(t, peer, "["+hostOutIP+"]:8080", "ctr saw fd00:a::1")

	inNS(t, host, func() error { return fw.CheckEndpoint(a, "e1", p) })
	inNS(t, host, func() error { return fw.DeleteNetwork("a") })
	if got := save6In(t, host); got != before6 {
		t.Errorf("ip6tables-save after the last delete:\n%s\nwant:\n%s", got, before6)
	}
	checkSaveRestored(t, before, saveIn(t, host))
}

// TestPrivilegedIPv6Routed: gateway mode routed. The outside sees the
// container's own address, reaches its published port at the container's
// address and port, but not an unpublished one; nat-unprotected lets the
// unpublished one in too.
func TestPrivilegedIPv6Routed(t *testing.T) {
	host, fw, _ := setup(t)
	before6 := save6In(t, host)
	tp := newTopo6(t, host)
	tp.bridge(t, "br6a", "fd00:a::1")
	ctr := tp.container(t, "br6a", "fd00:a::2", "fd00:a::1")
	a := testNetOnly6("a", "br6a", "fd00:a::/64")
	a.Mode6 = firewall.ModeRouted
	cleanupNets(t, host, fw, a)
	serve6(t, tp.out, "["+outsideIP+"]:9000", "outside")
	serve6(t, ctr, "[fd00:a::2]:80", "ctr80")
	serve6(t, ctr, "[fd00:a::2]:81", "ctr81")

	inNS(t, host, func() error { return fw.EnsureNetwork(a) })
	reaches(t, ctr, "["+outsideIP+"]:9000", "outside saw fd00:a::2")
	if got := dial6(t, tp.out, "[fd00:a::2]:80"); got != "" {
		t.Errorf("routed, nothing published: the outside reached port 80: %q", got)
	}
	p := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:a::2"), ContainerPort: 80}}
	inNS(t, host, func() error { return fw.AddPorts(a, "e1", p) })
	reaches(t, tp.out, "[fd00:a::2]:80", "ctr80 saw "+outsideIP)
	reaches(t, tp.out, "["+hostOutIP+"]:8080", "ctr80 saw "+outsideIP) // host-port DNAT as for nat
	if got := dial6(t, tp.out, "[fd00:a::2]:81"); got != "" {
		t.Errorf("routed: the outside reached the unpublished port 81: %q", got)
	}
	// ICMPv6 gets in (ping from the outside).
	if out, err := testutil.InNS(tp.out, "ping", "-6", "-c1", "-W2", "fd00:a::2"); err != nil {
		t.Errorf("routed: ping from the outside: %v\n%s", err, out)
	}

	u := a
	u.Mode6 = firewall.ModeNATUnprotected
	inNS(t, host, func() error { return fw.EnsureNetwork(u) })
	reaches(t, tp.out, "[fd00:a::2]:81", "ctr81 saw "+outsideIP)

	inNS(t, host, func() error { return fw.DeleteNetwork("a") })
	if got := save6In(t, host); got != before6 {
		t.Errorf("ip6tables-save after the last delete:\n%s\nwant:\n%s", got, before6)
	}
}

// TestPrivilegedIPv6IsolationICCInternal: between two plumb networks no
// IPv6 traffic passes, icc=false stops IPv6 between containers of one
// network, and an internal network lets no IPv6 out; each checked
// against the same traffic passing first.
func TestPrivilegedIPv6IsolationICCInternal(t *testing.T) {
	host, fw, _ := setup(t)
	tp := newTopo6(t, host)
	tp.bridge(t, "br6a", "fd00:a::1")
	tp.bridge(t, "br6b", "fd00:b::1")
	c1 := tp.container(t, "br6a", "fd00:a::2", "fd00:a::1")
	c2 := tp.container(t, "br6a", "fd00:a::3", "fd00:a::1")
	c3 := tp.container(t, "br6b", "fd00:b::2", "fd00:b::1")
	serve6(t, c2, "[fd00:a::3]:80", "c2")
	serve6(t, c3, "[fd00:b::2]:80", "c3")
	serve6(t, tp.out, "["+outsideIP+"]:9000", "outside")

	// Without plumb's rules everything passes (else this proves nothing).
	reaches(t, c1, "[fd00:a::3]:80", "c2 saw fd00:a::2")
	reaches(t, c1, "[fd00:b::2]:80", "c3 saw fd00:a::2")
	reaches(t, c1, "["+outsideIP+"]:9000", "outside saw fd00:a::2")

	a := testNet6("a", "br6a", "10.61.0.0/24", "fd00:a::/64")
	b := testNetOnly6("b", "br6b", "fd00:b::/64")
	cleanupNets(t, host, fw, a, b)
	inNS(t, host, func() error {
		if err := fw.EnsureNetwork(a); err != nil {
			return err
		}
		return fw.EnsureNetwork(b)
	})
	reaches(t, c1, "[fd00:a::3]:80", "c2 saw fd00:a::2")
	reaches(t, c1, "["+outsideIP+"]:9000", "outside saw "+hostOutIP)
	if got := dial6(t, c1, "[fd00:b::2]:80"); got != "" {
		t.Errorf("isolation: a reached b over IPv6: %q", got)
	}
	noICC := a
	noICC.ICC = false
	inNS(t, host, func() error { return fw.EnsureNetwork(noICC) })
	if got := dial6(t, c1, "[fd00:a::3]:80"); got != "" {
		t.Errorf("icc=false: c1 reached c2 over IPv6: %q", got)
	}
	internal := a
	internal.Internal = true
	inNS(t, host, func() error { return fw.EnsureNetwork(internal) })
	reaches(t, c1, "[fd00:a::3]:80", "c2 saw fd00:a::2")
	if got := dial6(t, c1, "["+outsideIP+"]:9000"); got != "" {
		t.Errorf("internal: c1 reached the outside over IPv6: %q", got)
	}
	isolated := a
	isolated.Mode6 = firewall.ModeIsolated
	inNS(t, host, func() error { return fw.EnsureNetwork(isolated) })
	if got := dial6(t, c1, "["+outsideIP+"]:9000"); got != "" {
		t.Errorf("isolated IPv6: c1 reached the outside over IPv6: %q", got)
	}
	inNS(t, host, func() error { return fw.CheckNetwork(isolated) })
}

// TestPrivilegedIPv6EnsureTwiceAndRestore: the ip6tables rules read back
// from ip6tables-save equal Rules() token by token, for every gateway
// mode and for ports (else a second EnsureNetwork would rewrite them), and
// the last DeleteNetwork leaves ip6tables-save as it was.
func TestPrivilegedIPv6EnsureTwiceAndRestore(t *testing.T) {
	host, fw, cr := setup(t)
	before, before6 := saveIn(t, host), save6In(t, host)
	var nets []firewall.Network
	for i, m := range []string{"", firewall.ModeNATUnprotected, firewall.ModeRouted, firewall.ModeIsolated} {
		n := testNet6("n"+string(rune('0'+i)), "br-n"+string(rune('0'+i)), "10.7"+string(rune('0'+i))+".0.0/24", "fd00:7"+string(rune('0'+i))+"::/64")
		n.Mode4, n.Mode6 = m, m
		nets = append(nets, n)
	}
	cleanupNets(t, host, fw, nets...)
	ports := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:72::2"), ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("2001:db8::5"), HostPort: 53, ContainerIP: netip.MustParseAddr("fd00:72::2"), ContainerPort: 53},
		{Proto: "tcp", HostIP: netip.MustParseAddr("10.72.0.9"), HostPort: 8080, ContainerIP: netip.MustParseAddr("10.72.0.2"), ContainerPort: 80},
	}
	inNS(t, host, func() error {
		for _, n := range nets {
			if err := fw.EnsureNetwork(n); err != nil {
				return err
			}
		}
		return fw.AddPorts(nets[2], "e", ports)
	})
	n := cr.restores
	inNS(t, host, func() error {
		for _, n := range nets {
			if err := fw.EnsureNetwork(n); err != nil {
				return err
			}
		}
		pubs := []firewall.Published{{Network: nets[2], Owner: "e", Ports: ports}}
		if changed, err := fw.EnsureAll(nets, pubs); changed || err != nil {
			t.Errorf("EnsureAll of what is there: changed %v, %v", changed, err)
		}
		return fw.CheckEndpoint(nets[2], "e", ports)
	})
	if cr.restores != n {
		t.Errorf("ensuring again wrote %d times: the rules read back differ from Rules()", cr.restores-n)
	}
	inNS(t, host, func() error {
		for _, n := range nets {
			if err := fw.DeleteNetwork(n.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if got := save6In(t, host); got != before6 {
		t.Errorf("ip6tables-save after the last delete:\n%s\nwant:\n%s", got, before6)
	}
	checkSaveRestored(t, before, saveIn(t, host))
}
