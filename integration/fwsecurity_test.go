package integration

import (
	"os/exec"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// The security of published ports and of the coexistence with Docker's
// FORWARD DROP, on each firewall backend (issue 16).

// farHost links h to a new namespace "far" that stands for a machine
// somewhere beyond h: h side 203.0.113.1/24, far side 203.0.113.2/24
// (TEST-NET-3, private to this test), far routing 198.51.100.0/24 (the
// neighbour's link, see outside) back through h. It returns far.
// Equivalent to: `ip link add A type veth peer name B netns FAR`, addresses,
// up, `ip -n FAR route add 198.51.100.0/24 via 203.0.113.1`.
func farHost(t *testing.T, h *host) string {
	t.Helper()
	far := testutil.NewNetNS(t)
	a, b := testutil.UniqueName("fo"), testutil.UniqueName("fi")
	testutil.Run(t, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", a).Run() })
	testutil.Run(t, "ip", "link", "set", b, "netns", far)
	if h.ns != "" {
		testutil.Run(t, "ip", "link", "set", a, "netns", h.ns)
	}
	if h.own == nil {
		h.own = map[string]bool{}
	}
	h.own[a] = true
	mustSh(t, h, "ip", "addr", "add", "203.0.113.1/24", "dev", a)
	mustSh(t, h, "ip", "link", "set", a, "up")
	for _, args := range [][]string{
		{"addr", "add", "203.0.113.2/24", "dev", b},
		{"link", "set", b, "up"},
		{"link", "set", "lo", "up"},
		{"route", "add", "198.51.100.0/24", "via", "203.0.113.1"},
	} {
		testutil.Run(t, "ip", append([]string{"-n", far}, args...)...)
	}
	return far
}

// TestPrivilegedFirewallDNATOnlyToHost: a published port DNATs only
// traffic addressed to the host (CVE-2025-67499: the CNI portmap plugin's
// nftables backend DNATed every packet with the published port number,
// whatever its destination). A neighbour routing through the host to a
// machine beyond it, a container of the network going out, and the host
// itself, each connecting to that machine's port 8080 while 8080 is
// published, reach that machine and not the container; the same neighbour
// still reaches the published port on the host's address. A loopback-only
// port (-p 127.0.0.1:9090:80) answers neither the neighbour on the host's
// address nor the neighbour sending to 127.0.0.1 through the host, nor a
// container routing 127.0.0.0/8 via its gateway.
func TestPrivilegedFirewallDNATOnlyToHost(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		mustSh(t, h, "ip", "link", "set", "lo", "up")
		lan, _ := outside(t, h)
		far := farHost(t, h)
		testutil.Run(t, "ip", "-n", lan, "route", "add", "203.0.113.0/24", "via", "198.51.100.1")
		serve(t, far, 8080, "far")

		h.must("network", "create", "cve", "--subnet", "10.231.50.0/24")
		h.assertBackend()
		c, b := target(t), target(t)
		serve(t, c, 80, "c")
		h.must("attach", "netns:"+c, "--net", "cve", "-p", "8080:80", "-p", "8080:80/udp", "-p", "127.0.0.1:9090:80")
		h.must("attach", "netns:"+b, "--net", "cve")

		if got := tcpFrom(lan, "198.51.100.1:8080"); got != "hello from c" {
			t.Fatalf("neighbour to the published port on the host's address: %q, want hello from c", got)
		}
		for _, r := range []struct{ from, why string }{
			{lan, "a neighbour routing through the host"},
			{b, "a container of the network"},
			{h.ns, "the host itself"},
		} {
			if got := tcpFrom(r.from, "203.0.113.2:8080"); got != "hello from far" {
				t.Errorf("tcp from %s to a machine beyond the host, port 8080: %q, want hello from far (DNATed though not addressed to the host?)", r.why, got)
			}
			if got := udpFrom(t, r.from, "203.0.113.2:8080"); got != "hello from far" {
				t.Errorf("udp from %s to a machine beyond the host, port 8080: %q, want hello from far", r.why, got)
			}
		}

		if got := tcpFrom(lan, "198.51.100.1:9090"); got != "" {
			t.Errorf("loopback-only port reached by a neighbour on the host's address: %q", got)
		}
		routeLoopbackVia(t, lan, "198.51.100.1")
		if got := tcpFrom(lan, "127.0.0.1:9090"); got != "" {
			t.Errorf("loopback-only port reached by a neighbour sending to 127.0.0.1 through the host: %q", got)
		}
		routeLoopbackViaGateway(t, b, "10.231.50.1")
		if got := tcpFrom(b, "127.0.0.1:9090"); got != "" {
			t.Errorf("loopback-only port reached by a container routing 127.0.0.0/8 via its gateway: %q", got)
		}
		if got := tcpFrom(h.ns, "127.0.0.1:9090"); got != "hello from c" {
			t.Errorf("loopback-only port from the host's localhost: %q, want hello from c", got)
		}
	})
}

// routeLoopbackVia makes namespace ns (not a plumb container: its
// interface is not eth0) send 127.0.0.0/8 to gw and accept the answers
// from 127.0.0.1 on any interface, as a hostile neighbour can.
func routeLoopbackVia(t *testing.T, ns, gw string) {
	t.Helper()
	for _, args := range [][]string{
		{"ip", "addr", "del", "127.0.0.1/8", "dev", "lo"},
		{"ip", "route", "add", "127.0.0.0/8", "via", gw},
		{"sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"},
	} {
		testutil.Run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
	}
}

// TestPrivilegedFirewallForwardDrop: a host where iptables' FORWARD
// policy is DROP before the first network (Docker sets it so, and adds
// its DOCKER-USER chain): a drop in any table's base chain is final, so
// plumb must let its own traffic through there, whichever backend holds
// its rules. A container reaches the outside (masqueraded), a neighbour
// reaches a published port, two containers of the network reach each
// other (bridged: through FORWARD when br_netfilter is loaded); and the
// last network rm leaves iptables-save and nft list ruleset as they were,
// policy DROP included.
func TestPrivilegedFirewallForwardDrop(t *testing.T) {
	cases := []struct {
		name  string
		setup []string // shell run in the host before the first network
	}{
		{"policy DROP", []string{"iptables -P FORWARD DROP"}},
		{"Docker's chains", []string{"iptables -P FORWARD DROP", "iptables -N DOCKER-USER",
			"iptables -A DOCKER-USER -j RETURN", "iptables -A FORWARD -j DOCKER-USER"}},
	}
	eachBackend(t, func(t *testing.T, fw string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { forwardDropScenario(t, newHostOn(t, fw), tc.setup) })
		}
	})
}

func forwardDropScenario(t *testing.T, h *host, setup []string) {
	lan, lastSrc := outside(t, h)
	for _, s := range setup {
		mustSh(t, h, "sh", "-c", s)
	}
	before := h.snapshot()
	h.must("network", "create", "fd", "--subnet", "10.231.51.0/24")
	h.assertBackend()
	c, b := target(t), target(t)
	serve(t, c, 80, "c")
	h.must("attach", "netns:"+c, "--net", "fd", "-p", "8080:80")
	h.must("attach", "netns:"+b, "--net", "fd")

	if got, err := dialFrom(c, "198.51.100.2:8080"); err != nil {
		t.Errorf("container to the outside through FORWARD DROP: %q %v", got, err)
	} else if src := lastSrc(); src != "198.51.100.1" {
		t.Errorf("outside saw source %q, want the masqueraded 198.51.100.1", src)
	}
	if got := tcpFrom(lan, "198.51.100.1:8080"); got != "hello from c" {
		t.Errorf("neighbour to the published port through FORWARD DROP: %q, want hello from c", got)
	}
	if got := tcpFrom(b, h.epIP("netns:"+c, "fd")+":80"); got != "hello from c" {
		t.Errorf("container to container through FORWARD DROP: %q, want hello from c", got)
	}
	if out, err := h.run("doctor"); err != nil {
		t.Logf("plumb doctor (not judged here): %v\n%s", err, out)
	}
	h.must("detach", "netns:"+c)
	h.must("detach", "netns:"+b)
	h.must("network", "rm", "fd")
	if after := h.snapshot(); after != before {
		t.Fatalf("network rm did not restore the host:\n--- before\n%s\n--- after\n%s", before, after)
	}
}
