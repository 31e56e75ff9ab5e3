package integration

import (
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/testutil"
	"github.com/plumbnet/plumb/network"
)

// IPv6 traffic end to end (issue 17, "Tests"): plumb commands in a
// throwaway host namespace, containers in throwaway namespaces, and an
// "outside" namespace standing for both the world beyond the host and a
// neighbour on the host's LAN:
//
//	outside 2001:db8:17::2/64 --- 2001:db8:17::1/64 host  bridge fd00:232:4X::1/64 --- containers
//
// (2001:db8::/32 is the documentation range, private to this test). Each
// test runs on both firewall backends, and its last `network rm` must
// leave iptables-save, ip6tables-save and `nft list ruleset` as they were.

const (
	out6IP  = "2001:db8:17::2" // the outside namespace
	host6IP = "2001:db8:17::1" // the host, on the outside link
)

// outside6 links h to a new namespace "outside" by a veth: h side
// host6IP/64, outside side out6IP/64 (both nodad: usable at once), and
// gives the outside a route via the host to each of routes (a plumb
// subnet it may try to reach directly). Equivalent to:
//
//	ip link add A type veth peer name B netns OUT; ip link set A netns HOST
//	ip -n HOST addr add 2001:db8:17::1/64 dev A nodad; ip -n OUT addr add 2001:db8:17::2/64 dev B nodad
//	ip -n OUT -6 route add SUBNET via 2001:db8:17::1
func outside6(t *testing.T, h *host, routes ...string) string {
	t.Helper()
	out := testutil.NewNetNS(t)
	a, b := testutil.UniqueName("p6o"), testutil.UniqueName("p6i")
	testutil.Run(t, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", a).Run() })
	testutil.Run(t, "ip", "link", "set", b, "netns", out)
	testutil.Run(t, "ip", "link", "set", a, "netns", h.ns)
	if h.own == nil {
		h.own = map[string]bool{}
	}
	h.own[a] = true
	mustSh(t, h, "ip", "link", "set", "lo", "up")
	mustSh(t, h, "ip", "addr", "add", host6IP+"/64", "dev", a, "nodad")
	mustSh(t, h, "ip", "link", "set", a, "up")
	testutil.Run(t, "ip", "-n", out, "addr", "add", out6IP+"/64", "dev", b, "nodad")
	testutil.Run(t, "ip", "-n", out, "link", "set", b, "up")
	for _, r := range routes {
		testutil.Run(t, "ip", "-n", out, "-6", "route", "add", r, "via", host6IP)
	}
	return out
}

// listen6 answers every TCP connection to addr in namespace ns with "WHO
// saw SOURCE" (the source address it sees, IPv4 unmapped) until cleanup.
// An addr of "[::]:P" listens on both families.
func listen6(t *testing.T, ns, addr, who string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns, err)
	}
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

// reaches6 waits (10 s at most) until a connection from ns to addr is
// answered with a text starting with want, and fails the test otherwise:
// the positive control every "cannot reach" check stands on.
func reaches6(t *testing.T, ns, addr, want string) {
	t.Helper()
	last := ""
	for deadline := time.Now().Add(10 * time.Second); !strings.HasPrefix(last, want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s reaching %s: want an answer starting %q, last got %q", ns, addr, want, last)
		}
		last = tcpFrom(ns, addr)
	}
}

// blocked6 fails the test if a connection from ns to addr is answered.
func blocked6(t *testing.T, ns, addr, why string) {
	t.Helper()
	if got := tcpFrom(ns, addr); got != "" {
		t.Errorf("%s: %s reached %s: %q", why, ns, addr, got)
	}
}

// snapshot6 is h.snapshot (iptables-save, nft list ruleset, links) and
// `ip6tables-save` without comments and counters.
func (h *host) snapshot6() string {
	h.t.Helper()
	out := shOut(h.t, h, "ip6tables-save")
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	var b strings.Builder
	b.WriteString(h.snapshot())
	b.WriteString("--- ip6tables-save\n")
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			b.WriteString(counters.ReplaceAllString(l, "") + "\n")
		}
	}
	return b.String()
}

// assertRestored fails the test unless h's firewall and links are as in
// before (a snapshot6).
func (h *host) assertRestored(before string) {
	h.t.Helper()
	if after := h.snapshot6(); after != before {
		h.t.Errorf("the last network rm did not restore the host:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// TestPrivilegedIPv6TrafficNAT66: a container on a dual-stack network in
// gateway mode nat connects to an IPv6 listener outside and is seen from
// the host's address (masqueraded), not its own; the outside, routing the
// subnet via the host, cannot open a connection to the container's own
// address (the host can: the control).
func TestPrivilegedIPv6TrafficNAT66(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		out := outside6(t, h, "fd00:232:40::/64")
		listen6(t, out, "["+out6IP+"]:9000", "outside")
		before := h.snapshot6()

		h.must("network", "create", "n66", "--ipv6", "--subnet", "10.232.40.0/24", "--subnet", "fd00:232:40::/64")
		h.assertBackend()
		c := target(t)
		listen6(t, c, "[::]:80", "c")
		h.must("attach", "netns:"+c, "--net", "n66")
		c6 := addr6(t, c)
		if h.snapshot6() == before {
			t.Fatal("the snapshot does not change with a network: it cannot tell a restored host")
		}

		reaches6(t, c, "["+out6IP+"]:9000", "outside saw "+host6IP)
		reaches6(t, h.ns, "["+c6+"]:80", "c saw ")
		blocked6(t, out, "["+c6+"]:80", "nat mode, nothing published: the outside to the container's own address")

		h.must("detach", "netns:"+c)
		h.must("network", "rm", "n66")
		h.assertRestored(before)
	})
}

// TestPrivilegedIPv6TrafficRouted: gateway mode routed for IPv6. The
// outside, with a route to the subnet via the host, sees a container's
// connection from the container's own address, reaches its published
// port at the container's address and port (and pings it: ICMPv6 gets
// in), but not an unpublished port the host itself reaches.
func TestPrivilegedIPv6TrafficRouted(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		out := outside6(t, h, "fd00:232:41::/64")
		listen6(t, out, "["+out6IP+"]:9000", "outside")
		before := h.snapshot6()

		h.must("network", "create", "r6", "--ipv6", "--subnet", "10.232.41.0/24", "--subnet", "fd00:232:41::/64", "--gateway-mode-ipv6", "routed")
		h.assertBackend()
		c := target(t)
		listen6(t, c, "[::]:80", "c80")
		listen6(t, c, "[::]:81", "c81")
		h.must("attach", "netns:"+c, "--net", "r6", "-p", "8080:80")
		c6 := addr6(t, c)

		reaches6(t, c, "["+out6IP+"]:9000", "outside saw "+c6)
		reaches6(t, out, "["+c6+"]:80", "c80 saw "+out6IP)
		reaches6(t, out, "["+host6IP+"]:8080", "c80 saw "+out6IP)
		if o, err := testutil.InNS(out, "ping", "-6", "-c", "1", "-W", "2", c6); err != nil {
			t.Errorf("routed: ping from the outside to %s: %v\n%s", c6, err, o)
		}
		reaches6(t, h.ns, "["+c6+"]:81", "c81 saw ")
		blocked6(t, out, "["+c6+"]:81", "routed: the outside to an unpublished port")

		h.must("detach", "netns:"+c)
		h.must("network", "rm", "r6")
		h.assertRestored(before)
	})
}

// TestPrivilegedIPv6TrafficPorts: `-p 8080:80` on a dual-stack network
// answers the host on [::1]:8080 (the daemon's relay, which connects from
// the bridge's IPv6 gateway), on the host's own IPv6 address (DNAT) and on
// 127.0.0.1, and a neighbour on the host's IPv6 address; `-p
// [::1]:8081:81` answers the host on [::1] only, not the neighbour on the
// host's address, nor the host itself on its IPv6 address or on
// 127.0.0.1. After detach the relay no longer answers.
func TestPrivilegedIPv6TrafficPorts(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		out := outside6(t, h)
		before := h.snapshot6()

		h.must("network", "create", "p6", "--ipv6", "--subnet", "10.232.46.0/24", "--subnet", "fd00:232:46::/64")
		h.assertBackend()
		c := target(t)
		listen6(t, c, "[::]:80", "c80")
		listen6(t, c, "[::]:81", "c81")
		h.must("attach", "netns:"+c, "--net", "p6", "-p", "8080:80", "-p", "[::1]:8081:81")

		reaches6(t, h.ns, "[::1]:8080", "c80 saw fd00:232:46::1")
		reaches6(t, h.ns, "["+host6IP+"]:8080", "c80 saw ")
		reaches6(t, h.ns, "127.0.0.1:8080", "c80 saw ")
		reaches6(t, out, "["+host6IP+"]:8080", "c80 saw "+out6IP)
		reaches6(t, h.ns, "[::1]:8081", "c81 saw ")
		blocked6(t, out, "["+host6IP+"]:8081", "-p [::1]:8081:81: a neighbour on the host's IPv6 address")
		blocked6(t, h.ns, "["+host6IP+"]:8081", "-p [::1]:8081:81: the host on its own IPv6 address")
		blocked6(t, h.ns, "127.0.0.1:8081", "-p [::1]:8081:81: the host on 127.0.0.1")

		h.must("detach", "netns:"+c)
		waitFor(t, func() bool { return tcpFrom(h.ns, "[::1]:8080") == "" }, "the relay on [::1]:8080 to stop after detach")
		h.must("network", "rm", "p6")
		h.assertRestored(before)
	})
}

// TestPrivilegedIPv6TrafficIsolation: no IPv6 connection passes between
// two plumb networks (a dual-stack one and an IPv6-only one), either way,
// though each container's server answers its own network and each
// container reaches the outside.
func TestPrivilegedIPv6TrafficIsolation(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		out := outside6(t, h)
		listen6(t, out, "["+out6IP+"]:9000", "outside")
		before := h.snapshot6()

		h.must("network", "create", "isoa", "--ipv6", "--subnet", "10.232.42.0/24", "--subnet", "fd00:232:42::/64")
		h.must("network", "create", "isob", "--ipv6", "--ipv4=false", "--subnet", "fd00:232:43::/64")
		h.assertBackend()
		a1, a2, b1, b2 := target(t), target(t), target(t), target(t)
		for ns, net := range map[string]string{a1: "isoa", a2: "isoa", b1: "isob", b2: "isob"} {
			listen6(t, ns, "[::]:80", ns)
			h.must("attach", "netns:"+ns, "--net", net)
		}
		a2ip, b1ip := addr6(t, a2), addr6(t, b1)

		reaches6(t, a1, "["+a2ip+"]:80", a2+" saw "+addr6(t, a1))
		reaches6(t, b2, "["+b1ip+"]:80", b1+" saw "+addr6(t, b2))
		reaches6(t, a1, "["+out6IP+"]:9000", "outside saw "+host6IP)
		reaches6(t, b2, "["+out6IP+"]:9000", "outside saw "+host6IP)
		blocked6(t, a1, "["+b1ip+"]:80", "isolation between networks")
		blocked6(t, b2, "["+a2ip+"]:80", "isolation between networks")
		if ping(a1, b1ip) {
			t.Errorf("isolation: %s pings %s over IPv6", a1, b1ip)
		}

		h.must("network", "rm", "--force", "isoa")
		h.must("network", "rm", "--force", "isob")
		h.assertRestored(before)
	})
}

// TestPrivilegedIPv6TrafficICC: on a network made with --icc=false no
// IPv6 connection passes between its containers, though the host reaches
// the server and the client reaches the outside.
func TestPrivilegedIPv6TrafficICC(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		out := outside6(t, h)
		listen6(t, out, "["+out6IP+"]:9000", "outside")
		before := h.snapshot6()

		h.must("network", "create", "noicc", "--ipv6", "--icc=false", "--subnet", "10.232.44.0/24", "--subnet", "fd00:232:44::/64")
		h.assertBackend()
		c1, c2 := target(t), target(t)
		listen6(t, c2, "[::]:80", "c2")
		h.must("attach", "netns:"+c1, "--net", "noicc")
		h.must("attach", "netns:"+c2, "--net", "noicc")
		c2ip := addr6(t, c2)

		reaches6(t, h.ns, "["+c2ip+"]:80", "c2 saw ")
		reaches6(t, c1, "["+out6IP+"]:9000", "outside saw "+host6IP)
		blocked6(t, c1, "["+c2ip+"]:80", "icc=false")

		h.must("network", "rm", "--force", "noicc")
		h.assertRestored(before)
	})
}

// TestPrivilegedIPv6TrafficInternal: an --internal dual-stack network lets
// its containers reach each other over IPv6 but lets no IPv6 out (the same
// outside listener answers a container of a network beside it) nor in
// (the outside, routing the subnet via the host, does not reach a server
// its neighbour reaches).
func TestPrivilegedIPv6TrafficInternal(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		out := outside6(t, h, "fd00:232:45::/64")
		listen6(t, out, "["+out6IP+"]:9000", "outside")
		before := h.snapshot6()

		h.must("network", "create", "int6", "--ipv6", "--internal", "--subnet", "10.232.45.0/24", "--subnet", "fd00:232:45::/64")
		h.must("network", "create", "ext6", "--ipv6", "--subnet", "10.232.47.0/24", "--subnet", "fd00:232:47::/64")
		h.assertBackend()
		i1, i2, e := target(t), target(t), target(t)
		listen6(t, i2, "[::]:80", "i2")
		h.must("attach", "netns:"+i1, "--net", "int6")
		h.must("attach", "netns:"+i2, "--net", "int6")
		h.must("attach", "netns:"+e, "--net", "ext6")
		i2ip := addr6(t, i2)

		reaches6(t, i1, "["+i2ip+"]:80", "i2 saw "+addr6(t, i1))
		reaches6(t, e, "["+out6IP+"]:9000", "outside saw "+host6IP)
		blocked6(t, i1, "["+out6IP+"]:9000", "internal: out")
		blocked6(t, out, "["+i2ip+"]:80", "internal: in")

		h.must("network", "rm", "--force", "int6")
		h.must("network", "rm", "--force", "ext6")
		h.assertRestored(before)
	})
}

// TestPrivilegedIPv6TrafficIsolated: `--gateway-mode-ipv6 isolated` puts
// no IPv6 gateway address on the bridge and lets no IPv6 in or out, while
// containers of the network reach each other over IPv6 and IPv4 still
// goes out (masqueraded) in mode nat.
func TestPrivilegedIPv6TrafficIsolated(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		out := outside6(t, h, "fd00:232:48::/64")
		listen6(t, out, "["+out6IP+"]:9000", "outside")
		_, lastSrc := outside(t, h)
		before := h.snapshot6()

		h.must("network", "create", "iso6", "--ipv6", "--subnet", "10.232.48.0/24", "--subnet", "fd00:232:48::/64", "--gateway-mode-ipv6", "isolated")
		h.assertBackend()
		c1, c2 := target(t), target(t)
		listen6(t, c2, "[::]:80", "c2")
		h.must("attach", "netns:"+c1, "--net", "iso6")
		h.must("attach", "netns:"+c2, "--net", "iso6")
		c2ip := addr6(t, c2)
		if a := shOut(t, h, "ip", "-6", "-o", "addr", "show", "dev", h.bridgeOf("iso6"), "scope", "global"); strings.TrimSpace(a) != "" {
			t.Errorf("isolated IPv6: the bridge has a global IPv6 address: %q", a)
		}

		reaches6(t, c1, "["+c2ip+"]:80", "c2 saw "+addr6(t, c1))
		if got, err := dialFrom(c1, "198.51.100.2:8080"); err != nil {
			t.Errorf("isolated IPv6, nat IPv4: %s to the IPv4 outside: %q %v", c1, got, err)
		} else if src := lastSrc(); src != "198.51.100.1" {
			t.Errorf("isolated IPv6, nat IPv4: the outside saw %q, want 198.51.100.1", src)
		}
		blocked6(t, c1, "["+out6IP+"]:9000", "isolated IPv6: out")
		blocked6(t, out, "["+c2ip+"]:80", "isolated IPv6: in")

		h.must("network", "rm", "--force", "iso6")
		h.assertRestored(before)
	})
}

// bridgeOf is the bridge of network name, from `network ls --format json`.
func (h *host) bridgeOf(name string) string {
	h.t.Helper()
	var nets []network.Network
	if err := h.runJSON(&nets, "network", "ls", "--format", "json"); err != nil {
		h.t.Fatal(err)
	}
	for _, n := range nets {
		if n.Name == name && n.Bridge != "" {
			return n.Bridge
		}
	}
	h.t.Fatalf("no bridge of network %s in network ls", name)
	return ""
}
