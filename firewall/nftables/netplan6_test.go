package nftables

import (
	"net/netip"
	"strings"
	"testing"

	nft "github.com/google/nftables"

	"github.com/plumbnet/plumb/firewall"
)

var (
	netD = firewall.Network{Name: "d", Bridge: "pb-d", Subnet: netip.MustParsePrefix("172.30.3.0/24"),
		Subnet6: netip.MustParsePrefix("fd00:3::/64"), ICC: true, Masquerade: true}
	net6 = firewall.Network{Name: "six", Bridge: "pb-six", Subnet6: netip.MustParsePrefix("fd00:6::/64"), ICC: true, Masquerade: true}
	webD = []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("172.30.3.2"), ContainerPort: 80},
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:3::2"), ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("2001:db8::1"), HostPort: 53, ContainerIP: netip.MustParseAddr("fd00:3::2"), ContainerPort: 5353},
		{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 9000, ContainerIP: netip.MustParseAddr("fd00:3::2"), ContainerPort: 9},
		{Proto: "tcp", HostPort: 8081, ContainerIP: netip.MustParseAddr("fd00:3::2"), ContainerPort: 80},
	}
)

// elemLines renders the elements of n, one `add element` line each.
func elemLines(n firewall.Network) string {
	var b strings.Builder
	for _, e := range netElems(n) {
		b.WriteString(elemCmd("add", e) + "\n")
	}
	return b.String()
}

const pre = "add element inet plumb-networks "

// TestNetElems6: the elements of each family follow its gateway mode.
func TestNetElems6(t *testing.T) {
	common := pre + `bridges { "pb-d" comment "plumb:d" }` + "\n" + pre + `icc { "pb-d" . "pb-d" comment "plumb:d" : accept }` + "\n"
	v4 := pre + `masquerade_bridges { "pb-d" comment "plumb:d" }` + "\n" + pre + `nat_bridges { "pb-d" comment "plumb:d" }` + "\n" +
		pre + `nat_subnets { "pb-d" . 172.30.3.0-172.30.3.255 comment "plumb:d" }` + "\n"
	sub6 := pre + `nat_subnets6 { "pb-d" . fd00:3::-fd00:3::ffff:ffff:ffff:ffff comment "plumb:d" }` + "\n"
	for _, c := range []struct {
		what         string
		mode4, mode6 string
		want         string
	}{
		{"nat both", "", "", common + v4 + pre + `masquerade6_bridges { "pb-d" comment "plumb:d" }` + "\n" +
			pre + `protected_families { "pb-d" . ipv6 comment "plumb:d" }` + "\n" + sub6},
		{"IPv6 routed", "", firewall.ModeRouted, common + v4 + pre + `routed_families { "pb-d" . ipv6 comment "plumb:d" }` + "\n" +
			pre + `protected_families { "pb-d" . ipv6 comment "plumb:d" }` + "\n" + sub6},
		{"IPv6 nat-unprotected", "", firewall.ModeNATUnprotected, common + v4 + pre + `masquerade6_bridges { "pb-d" comment "plumb:d" }` + "\n" + sub6},
		{"IPv6 isolated", "", firewall.ModeIsolated, common + v4 + pre + `isolated_families { "pb-d" . ipv6 comment "plumb:d" }` + "\n"},
		{"IPv4 routed", firewall.ModeRouted, firewall.ModeNATUnprotected, common +
			pre + `routed_families { "pb-d" . ipv4 comment "plumb:d" }` + "\n" + pre + `protected_families { "pb-d" . ipv4 comment "plumb:d" }` + "\n" +
			pre + `nat_bridges { "pb-d" comment "plumb:d" }` + "\n" + pre + `nat_subnets { "pb-d" . 172.30.3.0-172.30.3.255 comment "plumb:d" }` + "\n" +
			pre + `masquerade6_bridges { "pb-d" comment "plumb:d" }` + "\n" + sub6},
	} {
		n := netD
		n.Mode4, n.Mode6 = c.mode4, c.mode6
		if got := elemLines(n); got != c.want {
			t.Errorf("%s:\n%s\nwant:\n%s", c.what, got, c.want)
		}
	}
	n := netD
	n.Subnet6 = netip.Prefix{}
	if got := elemLines(n); got != common+v4+pre+`isolated_families { "pb-d" . ipv6 comment "plumb:d" }`+"\n" {
		t.Errorf("IPv4 only: IPv6 isolated:\n%s", got)
	}
	n.Internal = true
	if got := elemLines(n); strings.Contains(got, "families") || !strings.Contains(got, "internal_bridges") {
		t.Errorf("internal: the bridge in internal_bridges, nothing per family:\n%s", got)
	}
	want6 := pre + `bridges { "pb-six" comment "plumb:six" }` + "\n" + pre + `icc { "pb-six" . "pb-six" comment "plumb:six" : accept }` + "\n" +
		pre + `isolated_families { "pb-six" . ipv4 comment "plumb:six" }` + "\n" + pre + `masquerade6_bridges { "pb-six" comment "plumb:six" }` + "\n" +
		pre + `protected_families { "pb-six" . ipv6 comment "plumb:six" }` + "\n" +
		pre + `nat_subnets6 { "pb-six" . fd00:6::-fd00:6::ffff:ffff:ffff:ffff comment "plumb:six" }` + "\n"
	if got := elemLines(net6); got != want6 {
		t.Errorf("IPv6 only:\n%s\nwant:\n%s", got, want6)
	}
}

// TestNetPorts6: IPv6 ports go in ports6 and addr_ports6, one element
// each, never for ::1; their container side in published6 once.
func TestNetPorts6(t *testing.T) {
	st := newNetState()
	st.apply(planEnsureAll(st, []firewall.Network{netD}, nil))
	step(t, st, planPorts(st, "d", "ep1", webD),
		pre+`ports { tcp . 8080 comment "plumb:d/ep1" : 172.30.3.2 . 80 }`+"\n"+
			pre+`ports6 { tcp . 8080 comment "plumb:d/ep1" : fd00:3::2 . 80 }`+"\n"+
			pre+`addr_ports6 { 2001:db8::1 . udp . 53 comment "plumb:d/ep1" : fd00:3::2 . 5353 }`+"\n"+
			pre+`ports6 { tcp . 8081 comment "plumb:d/ep1" : fd00:3::2 . 80 }`+"\n"+
			pre+`published { 172.30.3.2 . tcp . 80 comment "plumb:d/ep1" }`+"\n"+
			pre+`published6 { fd00:3::2 . tcp . 80 comment "plumb:d/ep1" }`+"\n"+
			pre+`published6 { fd00:3::2 . udp . 5353 comment "plumb:d/ep1" }`+"\n")
	c := &netChecker{st: st}
	if err := c.CheckEndpoint(netD, "ep1", webD); err != nil {
		t.Fatal(err)
	}
	if got := c.PortOwners(); len(got["d"]) != 1 || got["d"][0] != "ep1" {
		t.Fatalf("PortOwners: %v", got)
	}
	step(t, st, planDeletePorts(st, "d", "ep1"),
		"delete element inet plumb-networks ports { tcp . 8080 }\n"+
			"delete element inet plumb-networks ports6 { tcp . 8080 }\n"+
			"delete element inet plumb-networks ports6 { tcp . 8081 }\n"+
			"delete element inet plumb-networks addr_ports6 { 2001:db8::1 . udp . 53 }\n"+
			"delete element inet plumb-networks published { 172.30.3.2 . tcp . 80 }\n"+
			"delete element inet plumb-networks published6 { fd00:3::2 . tcp . 80 }\n"+
			"delete element inet plumb-networks published6 { fd00:3::2 . udp . 5353 }\n")
	if els := portElems("d", "ep1", webD[3:4]); len(els) != 0 {
		t.Errorf("a port on [::1] has elements: %v", els)
	}
	step(t, st, planDeleteNetwork(st, "d"), "delete table inet plumb-networks\n")
}

// TestNetElemRoundTrip6: the IPv6 and per-family elements read back as
// written (the interval of nat_subnets6 split in key and key end).
func TestNetElemRoundTrip6(t *testing.T) {
	for _, e := range append(netElems(netD), portElems("d", "ep1", webD)...) {
		if got := elemOf(e.set, e.setElement()); e.set != MapICC && got != e {
			t.Errorf("%s: read back as %+v", elemCmd("add", e), got)
		}
		if strings.Contains(e.text(), "?") {
			t.Errorf("%s: not rendered", e.text())
		}
	}
	for _, s := range []string{SetIsolated, SetPublished, SetPublished6, MapPorts6, MapAddrPorts6, SetNATSubnets6} {
		if !(&netState{sets: map[string]*nft.Set{s: netSet(s)}}).setSound(s) {
			t.Errorf("set %s is not sound as defined", s)
		}
	}
	if b := netSet(SetIsolated).KeyType.Bytes; b != 20 {
		t.Errorf("ifname . nf_proto: %d bytes, want 20", b)
	}
	if b := netSet(MapAddrPorts6).KeyType.Bytes; b != 24 {
		t.Errorf("ipv6_addr . inet_proto . inet_service: %d bytes, want 24", b)
	}
}

// TestDescribe6: IPv6 port elements as nft shows them.
func TestDescribe6(t *testing.T) {
	got := PortElements("d", "ID", webD[1:3])
	want := []string{
		`@ports6 { tcp . 8080 comment "plumb:d/ID" : fd00:3::2 . 80 }`,
		`@addr_ports6 { 2001:db8::1 . udp . 53 comment "plumb:d/ID" : fd00:3::2 . 5353 }`,
		`@published6 { fd00:3::2 . tcp . 80 comment "plumb:d/ID" }`,
		`@published6 { fd00:3::2 . udp . 5353 comment "plumb:d/ID" }`,
	}
	if len(got) != len(want) {
		t.Fatalf("PortElements = %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("element %d = %s, want %s", i, got[i], want[i])
		}
	}
}

// TestNetPlanModeChange6: an ensure with another gateway mode replaces
// the per-family elements (the old ones go), and keeps the ports.
func TestNetPlanModeChange6(t *testing.T) {
	st := newNetState()
	st.apply(planEnsureAll(st, []firewall.Network{netD}, []firewall.Published{{Network: netD, Owner: "ep1", Ports: webD}}))
	d2 := netD
	d2.Mode6 = firewall.ModeNATUnprotected
	step(t, st, planEnsureAll(st, []firewall.Network{d2}, nil),
		"delete element inet plumb-networks protected_families { \"pb-d\" . ipv6 }\n")
	d2.Mode6 = firewall.ModeIsolated
	step(t, st, planEnsureAll(st, []firewall.Network{d2}, nil),
		"delete element inet plumb-networks masquerade6_bridges { \"pb-d\" }\n"+
			"delete element inet plumb-networks nat_subnets6 { \"pb-d\" . fd00:3::-fd00:3::ffff:ffff:ffff:ffff }\n"+
			pre+`isolated_families { "pb-d" . ipv6 comment "plumb:d" }`+"\n")
	if err := (&netChecker{st: st}).CheckEndpoint(d2, "ep1", webD); err != nil {
		t.Fatal(err)
	}
	if err := (&netChecker{st: st}).CheckNetwork(netD); err == nil || !strings.Contains(err.Error(), "protected_families") {
		t.Fatalf("check of the old mode: %v", err)
	}
}

// TestNetPlanCoexistence6: with ip6tables' FORWARD policy DROP, a network
// with an IPv6 subnet gets its accept rules there (ip6tables-restore),
// one without does not; its delete removes them.
func TestNetPlanCoexistence6(t *testing.T) {
	st := newNetState()
	st.fwd6 = foreignState{v6: true, filter: true, policyDrop: true, userChain: true}
	ops := planEnsureAll(st, []firewall.Network{netD, netA}, nil)
	if _, ipt := renderNet(ops); ipt != "" {
		t.Errorf("iptables' FORWARD policy ACCEPT, yet: %s", ipt)
	}
	want := "*filter\n-I DOCKER-USER 1 -i pb-d -m comment --comment plumb:d -j ACCEPT\n" +
		"-I DOCKER-USER 1 -o pb-d -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment plumb:d -j ACCEPT\nCOMMIT\n"
	if got := renderForeign6(ops); got != want {
		t.Fatalf("ip6tables part:\n%s\nwant:\n%s", got, want)
	}
	if err := (&netChecker{st: st}).CheckNetwork(netD); err == nil || !strings.Contains(err.Error(), "ip6tables' filter FORWARD policy is DROP") {
		t.Fatalf("check before: %v", err)
	}
	st.apply(ops)
	if err := (&netChecker{st: st}).CheckNetwork(netD); err != nil {
		t.Fatalf("check after: %v", err)
	}
	step(t, st, planEnsureAll(st, []firewall.Network{netD}, nil), "")
	got, _ := renderNet(planDeleteNetwork(st, "d"))
	if strings.Count(got, "delete rule ip6 filter DOCKER-USER handle") != 2 {
		t.Fatalf("delete:\n%s", got)
	}
}

// TestNetPlanGrouped: EnsureAll's elements come grouped by set (one
// netlink message per set, however many owners and ports: a batch of one
// message per element overflows the socket's buffer with its acks), an
// element two plans touch is written once, and a second plan is empty.
func TestNetPlanGrouped(t *testing.T) {
	var pubs []firewall.Published
	for i := range 200 {
		pubs = append(pubs, firewall.Published{Network: netD, Owner: "ep" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Ports: []firewall.Port{
			{Proto: "tcp", HostPort: uint16(10000 + i), ContainerIP: netip.MustParseAddr("172.30.3.2"), ContainerPort: 80},
			{Proto: "tcp", HostPort: uint16(10000 + i), ContainerIP: netip.MustParseAddr("fd00:3::2"), ContainerPort: 80},
		}})
	}
	st := newNetState()
	ops := planEnsureAll(st, []firewall.Network{netD}, pubs)
	sets := map[string]bool{}
	last := ""
	for _, o := range ops {
		if o.kind != nAddElem || o.name == last {
			continue
		}
		if sets[o.name] {
			t.Fatalf("elements of %s are not together", o.name)
		}
		sets[o.name], last = true, o.name
	}
	st.apply(ops)
	if n := len(st.elems[SetPublished]) + len(st.elems[SetPublished6]); n != 2 {
		t.Errorf("%d container-side elements, want 2", n)
	}
	if len(st.elems[MapPorts]) != 200 || len(st.elems[MapPorts6]) != 200 {
		t.Errorf("ports %d, ports6 %d, want 200 each", len(st.elems[MapPorts]), len(st.elems[MapPorts6]))
	}
	if again := planEnsureAll(st, []firewall.Network{netD}, pubs[len(pubs)-1:]); len(again) != 0 {
		t.Errorf("a second plan: %v", again)
	}
}
