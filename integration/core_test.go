package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedCore runs the core scenario on a host with no Docker at all:
// a fresh namespace standing in for the host, on each firewall backend.
func TestPrivilegedCore(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) { coreScenario(t, newHostOn(t, fw)) })
}

// TestPrivilegedCoreBesideDocker runs the same scenario in the real host
// namespace beside a running dockerd (FORWARD policy DROP, br_netfilter),
// on each firewall backend: Docker's drop in its own base chain must not
// drop plumb's traffic whichever table plumb's rules are in.
func TestPrivilegedCoreBesideDocker(t *testing.T) {
	dockertest.Require(t)
	eachBackend(t, func(t *testing.T, fw string) {
		h := rootHostOn(t, fw)
		if out, _ := h.sh("iptables", "-S", "FORWARD"); !strings.Contains(out, "-P FORWARD DROP") {
			t.Logf("note: FORWARD policy is not DROP here:\n%s", out)
		}
		coreScenario(t, h)
	})
}

func coreScenario(t *testing.T, h *host) {
	before := h.snapshot()

	// One network, two namespaces: they reach each other by IP, and each
	// finds its own name in its hosts file.
	h.must("network", "create", "core-a", "--subnet", "10.231.1.0/24")
	h.assertBackend()
	a, b := target(t), target(t)
	h.must("attach", "netns:"+a, "--net", "core-a")
	h.must("attach", "netns:"+b, "--net", "core-a", "--ip", "10.231.1.50")
	ipA, ipB := h.epIP("netns:"+a, "core-a"), h.epIP("netns:"+b, "core-a")
	if ipB != "10.231.1.50" {
		t.Fatalf("static address: got %s", ipB)
	}
	if !ping(a, ipB) || !ping(b, ipA) {
		t.Fatalf("%s and %s on one network cannot reach each other", ipA, ipB)
	}
	if !ping(a, "10.231.1.1") {
		t.Fatal("endpoint cannot reach its gateway")
	}
	if hs := hostsOf(a); !strings.Contains(hs, ipA) || !strings.Contains(hs, a) {
		t.Fatalf("hosts file of %s lacks its own entry:\n%s", a, hs)
	}
	if out, err := h.sh("ip", "netns", "exec", a, "getent", "hosts", a); err != nil || !strings.Contains(out, ipA) {
		t.Fatalf("getent hosts %s inside %s: %q %v", a, a, out, err)
	}
	// Attaching again is a no-op that says so.
	if out := h.must("attach", "netns:"+a, "--net", "core-a"); !strings.Contains(out, "already") {
		t.Fatalf("second attach: %q", out)
	}

	// The outside world: masqueraded behind the host.
	_, lastSrc := outside(t, h)
	if got, err := dialFrom(a, "198.51.100.2:8080"); err != nil || !strings.Contains(got, "hello") {
		t.Fatalf("endpoint cannot reach the outside host: %q %v", got, err)
	}
	if src := lastSrc(); src != "198.51.100.1" {
		t.Fatalf("outside host saw source %q, want the masqueraded 198.51.100.1", src)
	}

	// A second network is isolated from the first.
	h.must("network", "create", "core-b", "--subnet", "10.231.2.0/24")
	c := target(t)
	h.must("attach", "netns:"+c, "--net", "core-b")
	ipC := h.epIP("netns:"+c, "core-b")
	if ping(a, ipC) || ping(c, ipA) {
		t.Fatal("two plumb networks can reach each other")
	}
	if _, err := dialFrom(c, "198.51.100.2:8080"); err != nil {
		t.Fatalf("second network cannot reach the outside: %v", err)
	}

	// --internal: nothing leaves the bridge, even with a route forced in.
	h.must("network", "create", "core-int", "--subnet", "10.231.3.0/24", "--internal")
	d := target(t)
	h.must("attach", "netns:"+d, "--net", "core-int")
	mustSh(t, h, "true")
	if out, err := h.sh("ip", "netns", "exec", d, "ip", "route", "add", "198.51.100.0/24", "via", "10.231.3.1"); err != nil {
		t.Fatalf("adding a route in the internal endpoint: %v %s", err, out)
	}
	if _, err := dialFrom(d, "198.51.100.2:8080"); err == nil {
		t.Fatal("an endpoint of an internal network reached the outside")
	}
	if ping(d, ipA) {
		t.Fatal("an internal network reached another network")
	}

	// --icc=false: endpoints cannot reach each other, but reach the gateway
	// and the outside.
	h.must("network", "create", "core-noicc", "--subnet", "10.231.4.0/24", "--icc=false")
	e, f := target(t), target(t)
	h.must("attach", "netns:"+e, "--net", "core-noicc")
	h.must("attach", "netns:"+f, "--net", "core-noicc")
	ipF := h.epIP("netns:"+f, "core-noicc")
	if ping(e, ipF) {
		t.Fatal("--icc=false: endpoints reach each other")
	}
	if !ping(e, "10.231.4.1") {
		t.Fatal("--icc=false: endpoint cannot reach its gateway")
	}
	if _, err := dialFrom(e, "198.51.100.2:8080"); err != nil {
		t.Fatalf("--icc=false: endpoint cannot reach the outside: %v", err)
	}

	// Detach removes the veth, the address file and the hosts line, and is
	// safe to repeat.
	veth := h.endpointOf("netns:"+a, "core-a").HostVeth
	h.must("detach", "netns:"+a, "--net", "core-a")
	if _, err := h.sh("ip", "link", "show", veth); err == nil {
		t.Fatalf("veth %s still there after detach", veth)
	}
	if _, err := os.Stat(filepath.Join(h.state, "networks", "core-a", "ips", ipA)); !os.IsNotExist(err) {
		t.Fatalf("address file of %s still there after detach: %v", ipA, err)
	}
	if hs := hostsOf(a); strings.Contains(hs, ipA) {
		t.Fatalf("hosts line still there after detach:\n%s", hs)
	}
	if out := h.must("detach", "netns:"+a); !strings.Contains(out, "not attached") {
		t.Fatalf("second detach: %q", out)
	}
	// The retired pair is deleted in the background; attaching the same
	// target again at once gets eth0 and a working link all the same.
	h.must("attach", "netns:"+a, "--net", "core-a")
	if out, err := testutil.InNS(a, "ip", "-o", "link", "show", "eth0"); err != nil || !strings.Contains(out, "state UP") {
		t.Fatalf("eth0 after detach and attach again: %v %s", err, out)
	}
	if !ping(a, "10.231.1.1") {
		t.Fatal("attached again at once: no path to the gateway")
	}
	h.must("detach", "netns:"+a, "--net", "core-a")
	h.waitReaped()

	// rm refuses while endpoints remain, then --force clears everything and
	// the host is as it was.
	if out, err := h.run("network", "rm", "core-a"); err == nil {
		t.Fatalf("network rm with an endpoint left succeeded: %s", out)
	}
	for _, n := range []string{"core-a", "core-b", "core-int", "core-noicc"} {
		h.must("network", "rm", "--force", n)
	}
	if h.ns != "" {
		h.assertNoPlumbFirewall()
	}
	if after := h.snapshot(); after != before {
		t.Fatalf("host changed by create+rm:\n--- before\n%s\n--- after\n%s", before, after)
	}
}
