package nftables

import (
	"net/netip"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

// TestDescribe: elements render as `nft list` shows them (key, comment,
// value), and every rule explain names by its comment exists.
func TestDescribe(t *testing.T) {
	ports := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 53},
	}
	got := PortElements("web", "ID", ports)
	want := []string{
		`@ports { tcp . 8080 comment "plumb:web/ID" : 10.0.0.2 . 80 }`,
		`@loopback_ports { 127.0.0.1 . udp . 53 comment "plumb:web/ID" : 10.0.0.2 . 53 }`,
		`@published { 10.0.0.2 . tcp . 80 comment "plumb:web/ID" }`,
	}
	if len(got) != len(want) {
		t.Fatalf("PortElements = %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("element %d = %s, want %s", i, got[i], want[i])
		}
	}
	n := firewall.Network{Name: "web", Bridge: "pb-web", Subnet: netip.MustParsePrefix("10.0.0.0/24"), ICC: true, Masquerade: true}
	els := NetworkElements(n)
	if els[1].String() != `@icc { "pb-web" . "pb-web" comment "plumb:web" : accept }` || els[1].Key != `"pb-web" . "pb-web"` {
		t.Errorf("icc element = %s (key %s)", els[1], els[1].Key)
	}
	for _, rc := range []struct{ chain, comment string }{
		{ChainFwd, "plumb: isolation between plumb networks"}, {ChainFwd, "plumb: traffic within a network, by its icc"},
		{ChainFwd, "plumb: internal networks: nothing comes in"}, {ChainFwd, "plumb: internal networks: nothing goes out"},
		{ChainFwd, "plumb: published ports"}, {ChainFwd, "plumb: containers may go out"},
		{ChainPre, "plumb: published ports"}, {ChainPre, "plumb: ports published on one address"},
		{ChainOut, "plumb: ports published on a loopback address"},
		{ChainPost, "plumb: containers going out"}, {ChainPost, "plumb: localhost to published ports"},
		{ChainPost, "plumb: hairpin to published ports"},
	} {
		if _, ok := RuleFor(rc.chain, rc.comment); !ok {
			t.Errorf("no rule %q in chain %s: explain names it", rc.comment, rc.chain)
		}
	}
}

// TestDNATRule: each port is DNATed by the rule looking up its map.
func TestDNATRule(t *testing.T) {
	for _, c := range []struct {
		p        firewall.Port
		fromHost bool
		want     string
	}{
		{webD[0], false, "plumb: published ports"},
		{webD[1], false, "plumb: published ports (IPv6)"},
		{webD[2], true, "plumb: ports published on one address (IPv6)"},
		{webA[2], true, "plumb: ports published on a loopback address"},
		{webA[2], false, ""},
		{webD[3], true, ""},
	} {
		r, ok := DNATRule(c.fromHost, c.p)
		if r.Comment != c.want || ok != (c.want != "") {
			t.Errorf("DNATRule(%v, %s) = %q, %v; want %q", c.fromHost, c.p, r.Comment, ok, c.want)
		}
	}
}
