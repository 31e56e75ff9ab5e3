package integration

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

// TestPrivilegedCNIIPv6 drives plumb through libcni with a dual-stack
// config: each ADD's result lists an IPv4 and an IPv6 address and a
// default route of each family; the ips capability gives a static IPv6
// address; the two namespaces reach each other over IPv6; the gateway
// listener answers AAAA on the IPv6 gateway; CHECK passes; DEL leaves the
// host as it was.
func TestPrivilegedCNIIPv6(t *testing.T) {
	c := newCNIHost(t)
	before := c.snapshot()
	const net = "cnet6"
	l := c.conflist(t, "1.1.0", net, map[string]any{
		"subnet": "10.231.46.0/24", "subnet6": "fd00:231:46::/64",
		"capabilities": map[string]bool{"aliases": true, "ips": true},
	})
	a, b := target(t), target(t)
	ra := rt("ctr-a6", a, "eth0", map[string]any{"aliases": map[string][]string{net: {"alpha"}}})
	rb := rt("ctr-b6", b, "eth0", map[string]any{"ips": []string{"fd00:231:46::b/64"}})
	resA, resB := c.mustAdd(t, l, ra), c.mustAdd(t, l, rb)

	var fams []string
	for _, ip := range resA.IPs {
		fams = append(fams, ip.Address.String()+" gw "+ip.Gateway.String())
	}
	if len(resA.IPs) != 2 || !strings.HasSuffix(fams[1], "gw fd00:231:46::1") || len(resA.Routes) != 2 || resA.Routes[1].Dst.String() != "::/0" {
		t.Fatalf("ADD result: ips %v routes %v", fams, resA.Routes)
	}
	a6, _ := netip.AddrFromSlice(resA.IPs[1].Address.IP)
	if got := resB.IPs[1].Address.IP.String(); got != "fd00:231:46::b" {
		t.Fatalf("ips capability: %s got %s", b, got)
	}
	if !ping(b, a6.String()) || !ping(a, "fd00:231:46::b") {
		t.Fatalf("%s and %s do not reach each other over IPv6", a, b)
	}
	if got := dig6(b, "fd00:231:46::1", "AAAA", "alpha"); got != a6.String() {
		t.Fatalf("AAAA alpha from the IPv6 gateway = %q, want %s", got, a6)
	}
	if err := c.check(l, ra); err != nil {
		t.Fatalf("CHECK of a dual-stack attachment: %v", err)
	}
	for _, r := range []*libcni.RuntimeConf{ra, rb} {
		if err := c.del(l, r); err != nil {
			t.Fatalf("DEL %s: %v", r.ContainerID, err)
		}
	}
	c.must("network", "rm", net)
	if after := c.snapshot(); after != before {
		t.Fatalf("host changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
}
