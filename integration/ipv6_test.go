package integration

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// addr6 is the IPv6 address plumb gave interface eth0 of namespace ns.
func addr6(t *testing.T, ns string) string {
	t.Helper()
	out := testutil.Run(t, "ip", "-n", ns, "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global")
	f := strings.Fields(out)
	for i, w := range f {
		if w == "inet6" && i+1 < len(f) {
			return strings.Split(f[i+1], "/")[0]
		}
	}
	t.Fatalf("no global IPv6 address on eth0 of %s: %q", ns, out)
	return ""
}

// sysctlIn reads sysctl key (net/ipv6/...) in h's namespace.
func sysctlIn(t *testing.T, h *host, key string) string {
	t.Helper()
	out, err := h.sh("cat", "/proc/sys/"+key)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return strings.TrimSpace(out)
}

// A dual-stack network: each endpoint gets an address of each family,
// usable at once, an IPv6 default route, router advertisements off, its
// names in AAAA records through 127.0.0.11 and in its hosts file with
// Docker's IPv6 localhost lines; endpoints reach each other over IPv6 by
// address and by name. Removing the network leaves the host as it was,
// IPv6 forwarding included.
func TestPrivilegedIPv6DualStack(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		before, fwd := h.snapshot(), sysctlIn(t, h, "net/ipv6/conf/all/forwarding")
		h.must("network", "create", "ds", "--ipv6", "--subnet", "10.232.1.0/24", "--subnet", "fd00:232:1::/64")
		a, b := target(t), target(t)
		h.must("attach", "netns:"+a, "--net", "ds", "--alias", "alpha")
		h.must("attach", "netns:"+b, "--net", "ds", "--alias", "beta", "--ip6", "fd00:232:1::beef")

		if got := addr6(t, b); got != "fd00:232:1::beef" {
			t.Errorf("--ip6: %s has %s", b, got)
		}
		a6 := addr6(t, a)
		if !netip.MustParsePrefix("fd00:232:1::/64").Contains(netip.MustParseAddr(a6)) {
			t.Errorf("%s got %s, outside the subnet", a, a6)
		}
		if route := testutil.Run(t, "ip", "-n", a, "-6", "route", "show", "default"); !strings.Contains(route, "via fd00:232:1::1") {
			t.Errorf("no IPv6 default route via the gateway in %s: %q", a, route)
		}
		if ra, _ := testutil.InNS(a, "cat", "/proc/sys/net/ipv6/conf/eth0/accept_ra"); strings.TrimSpace(ra) != "0" {
			t.Errorf("accept_ra on eth0 of %s is %q, want 0", a, ra)
		}
		if !ping(a, "fd00:232:1::beef") || !ping(b, a6) {
			t.Errorf("no IPv6 ping between %s and %s", a, b)
		}
		if !ping(a, "10.232.1.3") {
			t.Errorf("no IPv4 ping from %s to %s", a, b)
		}
		if got := dig6(a, "127.0.0.11", "AAAA", "beta"); got != "fd00:232:1::beef" {
			t.Errorf("AAAA beta through 127.0.0.11 = %q", got)
		}
		if got := dig6(a, "127.0.0.11", "A", "beta"); got != "10.232.1.3" {
			t.Errorf("A beta through 127.0.0.11 = %q", got)
		}
		if out, err := testutil.InNS(a, "ping", "-6", "-c", "1", "-W", "2", "beta"); err != nil {
			t.Errorf("ping -6 beta from %s: %v\n%s", a, err, out)
		}
		hosts := hostsOf(a)
		for _, want := range []string{a6 + "\t", "ip6-localhost", "ip6-allrouters"} {
			if !strings.Contains(hosts, want) {
				t.Errorf("hosts of %s lacks %q:\n%s", a, want, hosts)
			}
		}
		var views []struct {
			EnableIPv6 bool
			IPAM       struct {
				Config []struct{ Subnet, Gateway string }
			}
			Containers map[string]struct{ IPv4Address, IPv6Address string }
		}
		if err := json.Unmarshal([]byte(h.must("network", "inspect", "ds")), &views); err != nil || len(views) != 1 {
			t.Fatalf("network inspect: %v", err)
		}
		v := views[0]
		if !v.EnableIPv6 || len(v.IPAM.Config) != 2 || v.IPAM.Config[1].Subnet != "fd00:232:1::/64" || v.IPAM.Config[1].Gateway != "fd00:232:1::1" {
			t.Errorf("inspect: %+v", v)
		}
		if sysctlIn(t, h, "net/ipv6/conf/all/forwarding") != "1" {
			t.Error("IPv6 forwarding is off under a dual-stack network")
		}

		h.must("detach", "netns:"+a, "--net", "ds")
		if strings.Contains(hostsOf(a), "ip6-localhost") {
			t.Errorf("detach left the IPv6 hosts lines of %s:\n%s", a, hostsOf(a))
		}
		h.must("network", "rm", "--force", "ds")
		if got := h.snapshot(); got != before {
			t.Errorf("network rm left the host changed:\n%s\nwas:\n%s", got, before)
		}
		if got := sysctlIn(t, h, "net/ipv6/conf/all/forwarding"); got != fwd {
			t.Errorf("IPv6 forwarding is %s after the last network, was %s", got, fwd)
		}
	})
}

// An IPv6-only network (--ipv4=false) works end to end: a ULA /64 of its
// own, no IPv4 address anywhere, reachability and names over IPv6, and an
// A question answered with no data rather than NXDOMAIN.
func TestPrivilegedIPv6Only(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		h.must("network", "create", "only6", "--ipv6", "--ipv4=false")
		var nets []struct {
			Subnet  string `json:"subnet"`
			Subnet6 string `json:"subnet6"`
		}
		if err := json.Unmarshal([]byte(h.must("network", "ls", "--format", "json")), &nets); err != nil || len(nets) != 1 {
			t.Fatalf("network ls: %v", err)
		}
		sub, err := netip.ParsePrefix(nets[0].Subnet6)
		if err != nil || sub.Bits() != 64 || !netip.MustParsePrefix("fd00::/8").Contains(sub.Addr()) || nets[0].Subnet != "" {
			t.Fatalf("an IPv6-only network got subnet %q and subnet6 %q, want only a ULA /64", nets[0].Subnet, nets[0].Subnet6)
		}
		a, b := target(t), target(t)
		h.must("attach", "netns:"+a, "--net", "only6", "--alias", "alpha")
		h.must("attach", "netns:"+b, "--net", "only6", "--alias", "beta")
		if v4 := testutil.Run(t, "ip", "-n", a, "-4", "-o", "addr", "show", "dev", "eth0"); strings.TrimSpace(v4) != "" {
			t.Errorf("an IPv6-only endpoint has IPv4: %q", v4)
		}
		b6 := addr6(t, b)
		if !ping(a, b6) {
			t.Errorf("%s does not reach %s over IPv6", a, b6)
		}
		if got := dig6(a, "127.0.0.11", "AAAA", "beta"); got != b6 {
			t.Errorf("AAAA beta = %q, want %s", got, b6)
		}
		if out, _ := testutil.InNS(a, "dig", "+time=1", "+tries=2", "@127.0.0.11", "beta", "A"); !strings.Contains(out, "status: NOERROR") || strings.Contains(out, "ANSWER: 1") {
			t.Errorf("A beta on an IPv6-only network: want NOERROR with no answer:\n%s", out)
		}
		if out, err := testutil.InNS(a, "ping", "-c", "1", "-W", "2", "beta"); err != nil {
			t.Errorf("ping beta from %s: %v\n%s", a, err, out)
		}
		h.must("network", "rm", "--force", "only6")
	})
}

// Bad IPv6 input fails with exit code 1 and one line naming the value,
// and changes nothing.
func TestPrivilegedIPv6BadInput(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "six", "--ipv6", "--subnet", "10.232.9.0/24", "--subnet", "fd00:232:9::/64")
	h.must("network", "create", "four", "--subnet", "10.232.8.0/24")
	c := target(t)
	before, state := h.snapshot(), stateFiles(t, h.state)
	cases := []badInput{
		{[]string{"network", "create", "x", "--ipv6", "--subnet", "fd00:232:7::/121"}, "fd00:232:7::/121"},
		{[]string{"network", "create", "x", "--ipv6", "--subnet", "fd00:232::/47"}, "fd00:232::/47"},
		{[]string{"network", "create", "x", "--ipv6", "--subnet", "fd00:232:9::/64"}, "fd00:232:9::/64"},
		{[]string{"network", "create", "x", "--ipv6", "--subnet", "fe80::/64"}, "fe80::/64"},
		{[]string{"network", "create", "x", "--subnet", "fd00:232:7::/64"}, "--ipv6"},
		{[]string{"network", "create", "x", "--ipv4=false"}, "--ipv4=false"},
		{[]string{"network", "create", "x", "--gateway-mode", "bridged"}, "bridged"},
		{[]string{"network", "create", "x", "--ipv6", "--gateway-mode-ipv6", "nat66"}, "nat66"},
		{[]string{"network", "create", "x", "--ipv6", "--subnet", "fd00:232:7::/64", "--gateway", "fd00:232:8::1"}, "fd00:232:8::1"},
		{[]string{"attach", "netns:" + c, "--net", "six", "--ip6", "fd00:232:7::5"}, "fd00:232:7::5"},
		{[]string{"attach", "netns:" + c, "--net", "six", "--ip6", "10.232.9.5"}, "10.232.9.5"},
		{[]string{"attach", "netns:" + c, "--net", "four", "--ip6", "fd00:232:9::5"}, "fd00:232:9::5"},
		{[]string{"attach", "netns:" + c, "--net", "four", "-p", "[::1]:8080:80"}, "[::1]:8080:80"},
		{[]string{"attach", "netns:" + c, "--net", "six", "-p", "::1:8080:80"}, "::1:8080:80"},
	}
	checkBadInput(t, h, before, state, cases)
}

// TestPrivilegedDockerIPv6 attaches two real `--network=none` Docker
// containers to an internal dual-stack network (internal: nothing of the
// real host's forwarding changes): each gets both families, reaches the
// other over IPv6, and sees its IPv6 entry in Docker's /etc/hosts.
func TestPrivilegedDockerIPv6(t *testing.T) {
	dockertest.Require(t)
	h := rootHost(t)
	before := h.snapshot()
	nameA, nameB := testutil.UniqueName("pa"), testutil.UniqueName("pb")
	dockertest.RunNone(t, nameA)
	dockertest.RunNone(t, nameB)
	h.must("network", "create", "dock6", "--internal", "--ipv6", "--subnet", "10.232.20.0/24", "--subnet", "fd00:232:20::/64")
	h.must("attach", nameA, "--net", "dock6")
	h.must("attach", nameB, "--net", "dock6")
	epA, epB := h.endpointOf(nameA, "dock6"), h.endpointOf(nameB, "dock6")
	if !epA.IP.IsValid() || !epA.IP6.IsValid() {
		t.Fatalf("container %s got %v and %v, want both families", nameA, epA.IP, epA.IP6)
	}
	out, _ := dockertest.Exec(t, nameA, "ip", "-o", "addr", "show", "eth0")
	if !strings.Contains(out, epA.IP.String()) || !strings.Contains(out, epA.IP6.String()) {
		t.Fatalf("eth0 in %s lacks an address of %v, %v:\n%s", nameA, epA.IP, epA.IP6, out)
	}
	if out, err := dockertest.Exec(t, nameA, "ping", "-6", "-c", "1", "-W", "2", epB.IP6.Addr().String()); err != nil {
		t.Fatalf("container %s cannot reach %s over IPv6: %v\n%s", nameA, epB.IP6, err, out)
	}
	if out, err := dockertest.Exec(t, nameA, "cat", "/etc/hosts"); err != nil || !strings.Contains(out, epA.IP6.Addr().String()) {
		t.Fatalf("/etc/hosts inside %s lacks its IPv6 entry: %v\n%s", nameA, err, out)
	}
	h.must("network", "rm", "--force", "dock6")
	if after := h.snapshot(); after != before {
		t.Fatalf("host changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
}
