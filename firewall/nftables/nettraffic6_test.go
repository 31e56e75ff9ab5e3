package nftables

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// serve6 answers each TCP connection to addr (IPv6) in namespace name
// with reply(conn) until cleanup.
func serve6(t *testing.T, name, addr string, reply func(net.Conn) string) {
	t.Helper()
	var ln net.Listener
	inNS(t, name, func() (err error) { ln, err = net.Listen("tcp6", addr); return })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(reply(c)))
			c.Close()
		}
	}()
}

func hello6(t *testing.T, name, addr, who string) {
	serve6(t, name, addr, func(net.Conn) string { return "hello from " + who })
}

// dial6 connects from namespace name to addr over IPv6 and returns what
// the server said, "" when it cannot connect within a second.
func dial6(t *testing.T, name, addr string) string {
	t.Helper()
	var got string
	inNS(t, name, func() error {
		c, err := net.DialTimeout("tcp6", addr, time.Second)
		if err != nil {
			return nil
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		got = string(buf[:n])
		return nil
	})
	return got
}

// trafficLab6 is a host namespace with two plumb-like bridges and a
// neighbour, over IPv6: pb-u1 fd00:71::/64 (c1 ::2, c2 ::3), pb-u2
// fd00:72::/64 (c3 ::2), the host fd00:70::1 and the neighbour
// fd00:70::2, which routes both subnets via the host. Addresses are
// nodad: usable at once.
type trafficLab6 struct{ host, c1, c2, c3, nbr string }

func newTrafficLab6(t *testing.T) trafficLab6 {
	l := trafficLab6{testutil.NewNetNS(t), testutil.NewNetNS(t), testutil.NewNetNS(t), testutil.NewNetNS(t), testutil.NewNetNS(t)}
	h := l.host
	run := func(args ...string) { testutil.Run(t, args[0], args[1:]...) }
	run("ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	for _, br := range []struct{ name, gw string }{{"pb-u1", "fd00:71::1/64"}, {"pb-u2", "fd00:72::1/64"}} {
		run("ip", "-n", h, "link", "add", br.name, "type", "bridge")
		run("ip", "-n", h, "addr", "add", br.gw, "dev", br.name, "nodad")
		run("ip", "-n", h, "link", "set", br.name, "up")
	}
	for i, c := range []struct{ ns, br, addr, gw string }{
		{l.c1, "pb-u1", "fd00:71::2/64", "fd00:71::1"}, {l.c2, "pb-u1", "fd00:71::3/64", "fd00:71::1"},
		{l.c3, "pb-u2", "fd00:72::2/64", "fd00:72::1"}, {l.nbr, "", "fd00:70::2/64", ""},
	} {
		hv := "hw" + string(rune('0'+i))
		run("ip", "-n", h, "link", "add", hv, "type", "veth", "peer", "name", "eth0", "netns", c.ns)
		if c.br != "" {
			run("ip", "-n", h, "link", "set", hv, "master", c.br)
			run("ip", "-n", h, "link", "set", hv, "type", "bridge_slave", "hairpin", "on")
		} else {
			run("ip", "-n", h, "addr", "add", "fd00:70::1/64", "dev", hv, "nodad")
		}
		run("ip", "-n", h, "link", "set", hv, "up")
		run("ip", "-n", c.ns, "addr", "add", c.addr, "dev", "eth0", "nodad")
		run("ip", "-n", c.ns, "link", "set", "eth0", "up")
		run("ip", "-n", c.ns, "link", "set", "lo", "up")
		if c.gw != "" {
			run("ip", "-n", c.ns, "-6", "route", "add", "default", "via", c.gw)
		}
	}
	run("ip", "-n", l.nbr, "-6", "route", "add", "fd00:71::/64", "via", "fd00:70::1")
	run("ip", "-n", l.nbr, "-6", "route", "add", "fd00:72::/64", "via", "fd00:70::1")
	run("ip", "-n", h, "link", "set", "lo", "up")
	l.ready(t)
	return l
}

// ready waits until no address of the lab is tentative (the link-local
// ones go through DAD) and every container and the neighbour reach their
// gateway: until then the first packets wait on neighbour discovery.
func (l trafficLab6) ready(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, ns := range []string{l.host, l.c1, l.c2, l.c3, l.nbr} {
		for {
			out, err := testutil.InNS(ns, "ip", "-6", "addr", "show", "tentative")
			if err == nil && strings.TrimSpace(out) == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("addresses still tentative in %s: %s", ns, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, p := range [][2]string{{l.c1, "fd00:71::1"}, {l.c2, "fd00:71::1"}, {l.c3, "fd00:72::1"}, {l.nbr, "fd00:70::1"}} {
		for {
			if _, err := testutil.InNS(p[0], "ping", "-6", "-c1", "-W1", p[1]); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not reach %s", p[0], p[1])
			}
		}
	}
}

type probe6 struct{ what, from, to, want string }

func (l trafficLab6) expect(t *testing.T, cases []probe6) {
	t.Helper()
	for _, c := range cases {
		if got := dial6(t, c.from, c.to); got != c.want {
			t.Errorf("%s (%s): got %q, want %q", c.what, c.to, got, c.want)
		}
	}
}

// TestPrivilegedNetTraffic6 checks the IPv6 side with real packets: a
// dual-stack network in mode nat (NAT66, published ports through the
// host's address only, hairpin, [::1] left to the host, nothing else in
// from outside) and an IPv6-only network in mode routed (the container's
// own address seen outside, its published port reached directly, an
// unpublished one not), isolation between them; then nat-unprotected
// (and no DNAT of traffic not addressed to the host: CVE-2025-67499),
// icc=false, internal and isolated.
func TestPrivilegedNetTraffic6(t *testing.T) {
	testutil.RequirePrivileged(t)
	l := newTrafficLab6(t)
	n1 := firewall.Network{Name: "u1", Bridge: "pb-u1", Subnet: netip.MustParsePrefix("10.231.71.0/24"),
		Subnet6: netip.MustParsePrefix("fd00:71::/64"), ICC: true, Masquerade: true}
	n2 := firewall.Network{Name: "u2", Bridge: "pb-u2", Subnet6: netip.MustParsePrefix("fd00:72::/64"), ICC: true, Masquerade: true,
		Mode6: firewall.ModeRouted}
	c1, c3 := netip.MustParseAddr("fd00:71::2"), netip.MustParseAddr("fd00:72::2")
	p1 := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: c1, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 9000, ContainerIP: c1, ContainerPort: 80},
	}
	p3 := []firewall.Port{{Proto: "tcp", HostPort: 8082, ContainerIP: c3, ContainerPort: 80}}
	f := newNetFW(t)
	t.Cleanup(func() {
		inNS(t, l.host, func() error { return f.DeleteNetwork("u1") })
		inNS(t, l.host, func() error { return f.DeleteNetwork("u2") })
	})
	inNS(t, l.host, func() error {
		for _, err := range []error{f.EnsureNetwork(n1), f.EnsureNetwork(n2), f.AddPorts(n1, "ep1", p1), f.AddPorts(n2, "ep3", p3)} {
			if err != nil {
				return err
			}
		}
		return f.CheckEndpoint(n2, "ep3", p3)
	})
	hello6(t, l.c1, "[::]:80", "c1")
	hello6(t, l.c2, "[::]:8080", "c2")
	hello6(t, l.c3, "[::]:80", "c3")
	hello6(t, l.c3, "[::]:81", "c3's unpublished port")
	hello6(t, l.host, "[::1]:8080", "the host's ::1")
	serve6(t, l.nbr, "[::]:80", func(c net.Conn) string { return c.RemoteAddr().(*net.TCPAddr).IP.String() })
	l.expect(t, []probe6{
		{"a neighbour to the host's published port", l.nbr, "[fd00:70::1]:8080", "hello from c1"},
		{"the host to its own published port", l.host, "[fd00:70::1]:8080", "hello from c1"},
		{"the host's [::1]:8080: not DNATed (the daemon's proxy serves it)", l.host, "[::1]:8080", "hello from the host's ::1"},
		{"a port on [::1] only: no DNAT at all", l.host, "[fd00:70::1]:9000", ""},
		{"a container to a published port (hairpin)", l.c2, "[fd00:70::1]:8080", "hello from c1"},
		{"a container to its own published port (owner hairpin)", l.c1, "[fd00:70::1]:8080", "hello from c1"},
		{"a container to another of its network", l.c1, "[fd00:71::3]:8080", "hello from c2"},
		{"a neighbour to a container's address in mode nat (not published: dropped)", l.nbr, "[fd00:71::3]:8080", ""},
		{"a container going out (NAT66)", l.c1, "[fd00:70::2]:80", "fd00:70::1"},
		{"a container of a routed network going out: its own address", l.c3, "[fd00:70::2]:80", "fd00:72::2"},
		{"a neighbour to a routed container's published port, directly", l.nbr, "[fd00:72::2]:80", "hello from c3"},
		{"a neighbour to a routed container's unpublished port", l.nbr, "[fd00:72::2]:81", ""},
		{"a neighbour to a routed network's host port", l.nbr, "[fd00:70::1]:8082", "hello from c3"},
		{"a container to another network (isolation)", l.c1, "[fd00:72::2]:80", ""},
		{"the other way (isolation)", l.c3, "[fd00:71::2]:80", ""},
	})

	if _, err := testutil.InNS(l.nbr, "ping", "-6", "-c1", "-W1", "fd00:72::2"); err != nil {
		t.Errorf("mode routed: a neighbour's ping to a container: %v", err)
	}
	if _, err := testutil.InNS(l.nbr, "ping", "-6", "-c1", "-W1", "fd00:71::2"); err == nil {
		t.Errorf("mode nat: a neighbour's ping reached a container")
	}
	n1.Mode6 = firewall.ModeNATUnprotected
	inNS(t, l.host, func() error { return f.EnsureNetwork(n1) })
	l.expect(t, []probe6{
		{"nat-unprotected: a neighbour to a container's address, port 8080 (not the host's: no DNAT)", l.nbr, "[fd00:71::3]:8080", "hello from c2"},
		{"nat-unprotected: still NAT66", l.c1, "[fd00:70::2]:80", "fd00:70::1"},
	})

	n1.ICC = false
	n2.Internal = true
	inNS(t, l.host, func() error { return errors.Join(f.EnsureNetwork(n1), f.EnsureNetwork(n2)) })
	l.expect(t, []probe6{
		{"icc=false", l.c1, "[fd00:71::3]:8080", ""},
		{"a neighbour to an internal network", l.nbr, "[fd00:72::2]:80", ""},
		{"an internal network going out", l.c3, "[fd00:70::2]:80", ""},
	})

	n2.Internal, n2.Mode6 = false, firewall.ModeIsolated
	inNS(t, l.host, func() error { return f.EnsureNetwork(n2) })
	l.expect(t, []probe6{
		{"mode isolated: a neighbour to a container", l.nbr, "[fd00:72::2]:80", ""},
		{"mode isolated: a neighbour to its host port", l.nbr, "[fd00:70::1]:8082", ""},
		{"mode isolated: going out", l.c3, "[fd00:70::2]:80", ""},
	})
}
