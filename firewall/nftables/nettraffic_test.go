package nftables

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// listenEcho answers each connection to addr in namespace name with the
// address it came from.
func listenEcho(t *testing.T, name, addr string) {
	t.Helper()
	var ln net.Listener
	inNS(t, name, func() (err error) { ln, err = net.Listen("tcp4", addr); return })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(c.RemoteAddr().(*net.TCPAddr).IP.String()))
			c.Close()
		}
	}()
}

// trafficLab is a host namespace with two plumb-like bridges, containers
// behind them and a neighbour host on a veth: pb-t1 10.231.61.0/24 (c1 .2,
// c2 .3), pb-t2 10.231.62.0/24 (c3 .2), the host 10.231.60.1 and the
// neighbour 10.231.60.2, which routes both subnets via the host.
type trafficLab struct{ host, c1, c2, c3, nbr string }

func newTrafficLab(t *testing.T) trafficLab {
	l := trafficLab{testutil.NewNetNS(t), testutil.NewNetNS(t), testutil.NewNetNS(t), testutil.NewNetNS(t), testutil.NewNetNS(t)}
	h := l.host
	run := func(args ...string) { testutil.Run(t, args[0], args[1:]...) }
	run("ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, br := range []struct{ name, gw string }{{"pb-t1", "10.231.61.1/24"}, {"pb-t2", "10.231.62.1/24"}} {
		run("ip", "-n", h, "link", "add", br.name, "type", "bridge")
		run("ip", "-n", h, "addr", "add", br.gw, "dev", br.name)
		run("ip", "-n", h, "link", "set", br.name, "up")
		run("ip", "netns", "exec", h, "sysctl", "-qw", "net.ipv4.conf."+br.name+".route_localnet=1")
	}
	for i, c := range []struct{ ns, br, addr, gw string }{
		{l.c1, "pb-t1", "10.231.61.2/24", "10.231.61.1"}, {l.c2, "pb-t1", "10.231.61.3/24", "10.231.61.1"},
		{l.c3, "pb-t2", "10.231.62.2/24", "10.231.62.1"}, {l.nbr, "", "10.231.60.2/24", "10.231.60.1"},
	} {
		hv := "hv" + string(rune('0'+i))
		run("ip", "-n", h, "link", "add", hv, "type", "veth", "peer", "name", "eth0", "netns", c.ns)
		if c.br != "" {
			run("ip", "-n", h, "link", "set", hv, "master", c.br)
			// plumb sets hairpin on each port, so that a container
			// reaching its own published port is bridged back to it.
			run("ip", "-n", h, "link", "set", hv, "type", "bridge_slave", "hairpin", "on")
		} else {
			run("ip", "-n", h, "addr", "add", "10.231.60.1/24", "dev", hv)
		}
		run("ip", "-n", h, "link", "set", hv, "up")
		run("ip", "-n", c.ns, "addr", "add", c.addr, "dev", "eth0")
		run("ip", "-n", c.ns, "link", "set", "eth0", "up")
		if c.br != "" {
			run("ip", "-n", c.ns, "route", "add", "default", "via", c.gw)
		}
	}
	run("ip", "-n", l.nbr, "route", "add", "10.231.61.0/24", "via", "10.231.60.1")
	run("ip", "-n", l.nbr, "route", "add", "10.231.62.0/24", "via", "10.231.60.1")
	// c2 routes 127.0.0.0/8 via its gateway, as a hostile container can.
	run("ip", "-n", l.c2, "addr", "del", "127.0.0.1/8", "dev", "lo")
	run("ip", "-n", l.c2, "route", "add", "127.0.0.0/8", "via", "10.231.61.1")
	run("ip", "netns", "exec", l.c2, "sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1")
	return l
}

// TestPrivilegedNetTraffic checks the backend's semantics with real
// packets: published ports from a neighbour, the host and a container
// (hairpin), only for traffic addressed to the host (CVE-2025-67499), a
// loopback-only port reachable from the host alone, masquerade,
// isolation between networks, and an internal network.
func TestPrivilegedNetTraffic(t *testing.T) {
	testutil.RequirePrivileged(t)
	l := newTrafficLab(t)
	n1 := firewall.Network{Name: "t1", Bridge: "pb-t1", Subnet: netip.MustParsePrefix("10.231.61.0/24"), ICC: true, Masquerade: true}
	n2 := firewall.Network{Name: "t2", Bridge: "pb-t2", Subnet: netip.MustParsePrefix("10.231.62.0/24"), ICC: true, Masquerade: true}
	c1 := netip.MustParseAddr("10.231.61.2")
	ports := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: c1, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9000, ContainerIP: c1, ContainerPort: 80},
	}
	f := newNetFW(t)
	inNS(t, l.host, func() error {
		if err := f.EnsureNetwork(n1); err != nil {
			return err
		}
		if err := f.EnsureNetwork(n2); err != nil {
			return err
		}
		return f.AddPorts(n1, "ep1", ports)
	})
	t.Cleanup(func() {
		inNS(t, l.host, func() error { return f.DeleteNetwork("t1") })
		inNS(t, l.host, func() error { return f.DeleteNetwork("t2") })
	})
	listen(t, l.c1, "0.0.0.0:80", "c1")
	listen(t, l.c2, "0.0.0.0:8080", "c2")
	listen(t, l.c3, "0.0.0.0:80", "c3")
	listenEcho(t, l.nbr, "0.0.0.0:80")
	for _, c := range []struct{ what, from, to, want string }{
		{"a neighbour to the host's published port", l.nbr, "10.231.60.1:8080", "hello from c1"},
		{"the host to its own published port", l.host, "10.231.60.1:8080", "hello from c1"},
		{"the host to a loopback-only port", l.host, "127.0.0.1:9000", "hello from c1"},
		{"a container to a published port (hairpin)", l.c2, "10.231.60.1:8080", "hello from c1"},
		{"a container to its own published port (owner hairpin)", l.c1, "10.231.60.1:8080", "hello from c1"},
		{"a container to its own published port via its gateway", l.c1, "10.231.61.1:8080", "hello from c1"},
		{"a neighbour to a loopback-only port", l.nbr, "10.231.60.1:9000", ""},
		{"a container to the host's loopback-only port", l.c2, "127.0.0.1:9000", ""},
		{"a neighbour to a container's address, port 8080 (not the host's: no DNAT)", l.nbr, "10.231.61.3:8080", "hello from c2"},
		{"a container going out (masquerade)", l.c1, "10.231.60.2:80", "10.231.60.1"},
		{"a container to another of its network", l.c1, "10.231.61.3:8080", "hello from c2"},
		{"a container to another network (isolation)", l.c1, "10.231.62.2:80", ""},
		{"the other way (isolation)", l.c3, "10.231.61.2:80", ""},
		{"a neighbour to a container of a network not internal", l.nbr, "10.231.62.2:80", "hello from c3"},
	} {
		if got := dialFrom(t, c.from, c.to); got != c.want {
			t.Errorf("%s (%s): got %q, want %q", c.what, c.to, got, c.want)
		}
	}
	n2.Internal = true
	inNS(t, l.host, func() error { return f.EnsureNetwork(n2) })
	for _, c := range []struct{ what, from, to string }{
		{"a neighbour to an internal network", l.nbr, "10.231.62.2:80"},
		{"an internal network going out", l.c3, "10.231.60.2:80"},
	} {
		if got := dialFrom(t, c.from, c.to); got != "" {
			t.Errorf("%s (%s): got %q, want nothing", c.what, c.to, got)
		}
	}
	// Mode routed for IPv4: no masquerade, from outside only the
	// published container port, directly.
	n2.Internal, n2.Mode4 = false, firewall.ModeRouted
	listen(t, l.c3, "0.0.0.0:81", "c3's unpublished port")
	p3 := []firewall.Port{{Proto: "tcp", HostPort: 8083, ContainerIP: netip.MustParseAddr("10.231.62.2"), ContainerPort: 80}}
	inNS(t, l.host, func() error { return errors.Join(f.EnsureNetwork(n2), f.AddPorts(n2, "ep3", p3)) })
	for _, c := range []struct{ what, from, to, want string }{
		{"routed: a container going out, its own address", l.c3, "10.231.60.2:80", "10.231.62.2"},
		{"routed: a neighbour to the published container port, directly", l.nbr, "10.231.62.2:80", "hello from c3"},
		{"routed: a neighbour to an unpublished container port", l.nbr, "10.231.62.2:81", ""},
		{"routed: a neighbour to the host port", l.nbr, "10.231.60.1:8083", "hello from c3"},
	} {
		if got := dialFrom(t, c.from, c.to); got != c.want {
			t.Errorf("%s (%s): got %q, want %q", c.what, c.to, got, c.want)
		}
	}
}
