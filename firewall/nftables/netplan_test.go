package nftables

import (
	"net/netip"
	"strings"
	"testing"

	nft "github.com/google/nftables"

	"github.com/plumbnet/plumb/firewall"
)

var (
	netA = firewall.Network{Name: "a", Bridge: "pb-a", Subnet: netip.MustParsePrefix("172.30.1.0/24"), ICC: true, Masquerade: true}
	netB = firewall.Network{Name: "b", Bridge: "pb-b", Subnet: netip.MustParsePrefix("172.30.2.0/24"), Internal: true}
	webA = []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("172.30.1.2"), ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("10.0.0.1"), HostPort: 53, ContainerIP: netip.MustParseAddr("172.30.1.2"), ContainerPort: 5353},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9000, ContainerIP: netip.MustParseAddr("172.30.1.2"), ContainerPort: 9},
	}
)

// step applies a plan to st after checking its rendering.
func step(t *testing.T, st *netState, ops []netOp, want string) {
	t.Helper()
	got, _ := renderNet(ops)
	if got != want {
		t.Fatalf("render:\n%s\nwant:\n%s", got, want)
	}
	st.apply(ops)
}

// TestNetRenderFirst: the first network's plan is the whole table, then
// its elements, as nft reads it.
func TestNetRenderFirst(t *testing.T) {
	got, ipt := renderNet(planEnsureAll(newNetState(), []firewall.Network{netA}, nil))
	for _, want := range []string{
		"add table inet plumb-networks\n",
		"add set inet plumb-networks bridges { type ifname; }\n",
		"add map inet plumb-networks icc { type ifname . ifname : verdict; }\n",
		"add map inet plumb-networks ports { type inet_proto . inet_service : ipv4_addr . inet_service; }\n",
		"add map inet plumb-networks addr_ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n",
		"add chain inet plumb-networks forward { type filter hook forward priority filter; policy accept; }\n",
		"add chain inet plumb-networks prerouting { type nat hook prerouting priority dstnat; policy accept; }\n",
		"add chain inet plumb-networks postrouting { type nat hook postrouting priority srcnat; policy accept; }\n",
		"add rule inet plumb-networks forward iifname . oifname vmap @icc comment \"plumb: traffic within a network, by its icc\"\n",
		"add rule inet plumb-networks prerouting meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @ports comment",
		"add element inet plumb-networks bridges { \"pb-a\" comment \"plumb:a\" }\n",
		"add element inet plumb-networks icc { \"pb-a\" . \"pb-a\" comment \"plumb:a\" : accept }\n",
		"add element inet plumb-networks masquerade_bridges { \"pb-a\" comment \"plumb:a\" }\n",
		"add element inet plumb-networks nat_bridges { \"pb-a\" comment \"plumb:a\" }\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("render lacks %q:\n%s", want, got)
		}
	}
	if ipt != "" {
		t.Errorf("no FORWARD policy DROP, yet iptables rules: %s", ipt)
	}
}

// TestNetPlanSeesItsChanges walks a life: two networks, ports, a flushed
// table, deletions, the last one deleting the table.
func TestNetPlanSeesItsChanges(t *testing.T) {
	st := newNetState()
	st.apply(planEnsureAll(st, []firewall.Network{netA}, nil))
	if p := structureProblems(st); len(p) != 0 {
		t.Fatalf("after the first ensure: %v", p)
	}
	step(t, st, planEnsureAll(st, []firewall.Network{netA}, nil), "")
	step(t, st, planEnsureAll(st, []firewall.Network{netB}, nil),
		"add element inet plumb-networks bridges { \"pb-b\" comment \"plumb:b\" }\n"+
			"add element inet plumb-networks icc { \"pb-b\" . \"pb-b\" comment \"plumb:b\" : drop }\n"+
			"add element inet plumb-networks internal_bridges { \"pb-b\" comment \"plumb:b\" }\n")
	step(t, st, planPorts(st, "a", "ep1", webA),
		"add element inet plumb-networks ports { tcp . 8080 comment \"plumb:a/ep1\" : 172.30.1.2 . 80 }\n"+
			"add element inet plumb-networks addr_ports { 10.0.0.1 . udp . 53 comment \"plumb:a/ep1\" : 172.30.1.2 . 5353 }\n"+
			"add element inet plumb-networks loopback_ports { 127.0.0.1 . tcp . 9000 comment \"plumb:a/ep1\" : 172.30.1.2 . 9 }\n"+
			"add element inet plumb-networks published { 172.30.1.2 . tcp . 80 comment \"plumb:a/ep1\" }\n"+
			"add element inet plumb-networks published { 172.30.1.2 . udp . 5353 comment \"plumb:a/ep1\" }\n")
	c := &netChecker{st: st}
	if err := c.CheckEndpoint(netA, "ep1", webA); err != nil {
		t.Fatalf("check: %v", err)
	}
	if got := c.PortOwners(); len(got["a"]) != 1 || got["a"][0] != "ep1" {
		t.Fatalf("PortOwners: %v", got)
	}
	// nft flush table: the rules go, the sets and elements stay.
	for ch := range st.rules {
		st.rules[ch] = nil
	}
	ops := planEnsureAll(st, []firewall.Network{netA, netB}, []firewall.Published{{Network: netA, Owner: "ep1", Ports: webA}})
	got, _ := renderNet(ops)
	if strings.Contains(got, "element") || !strings.Contains(got, "flush chain inet plumb-networks forward\n") {
		t.Fatalf("after a flush of the table:\n%s", got)
	}
	st.apply(ops)
	step(t, st, planDeletePorts(st, "a", "ep1"),
		"delete element inet plumb-networks ports { tcp . 8080 }\n"+
			"delete element inet plumb-networks addr_ports { 10.0.0.1 . udp . 53 }\n"+
			"delete element inet plumb-networks loopback_ports { 127.0.0.1 . tcp . 9000 }\n"+
			"delete element inet plumb-networks published { 172.30.1.2 . tcp . 80 }\n"+
			"delete element inet plumb-networks published { 172.30.1.2 . udp . 5353 }\n")
	st.apply(planPorts(st, "a", "ep1", webA[:1]))
	step(t, st, planDeleteNetwork(st, "b"),
		"delete element inet plumb-networks bridges { \"pb-b\" }\n"+
			"delete element inet plumb-networks internal_bridges { \"pb-b\" }\n"+
			"delete element inet plumb-networks icc { \"pb-b\" . \"pb-b\" }\n")
	step(t, st, planDeleteNetwork(st, "a"), "delete table inet plumb-networks\n")
	step(t, st, planDeleteNetwork(st, "a"), "")
}

// TestNetPlanChangedConfig: an ensure of a network with another config
// replaces its elements, keeps its ports.
func TestNetPlanChangedConfig(t *testing.T) {
	st := newNetState()
	st.apply(planEnsureAll(st, []firewall.Network{netA}, []firewall.Published{{Network: netA, Owner: "ep1", Ports: webA}}))
	a2 := netA
	a2.ICC, a2.Masquerade = false, false
	step(t, st, planEnsureAll(st, []firewall.Network{a2}, nil),
		"delete element inet plumb-networks masquerade_bridges { \"pb-a\" }\n"+
			"delete element inet plumb-networks icc { \"pb-a\" . \"pb-a\" }\n"+
			"add element inet plumb-networks icc { \"pb-a\" . \"pb-a\" comment \"plumb:a\" : drop }\n")
	if err := (&netChecker{st: st}).CheckEndpoint(a2, "ep1", webA); err != nil {
		t.Fatal(err)
	}
	err := (&netChecker{st: st}).CheckNetwork(netA)
	if err == nil || !strings.Contains(err.Error(), `element icc is "\"pb-a\" . \"pb-a\" comment \"plumb:a\" : drop", want`) ||
		!strings.Contains(err.Error(), `element missing (nft add element inet plumb-networks masquerade_bridges { "pb-a" comment "plumb:a" })`) {
		t.Fatalf("check of the old config: %v", err)
	}
}

// TestNetPlanCoexistence: with iptables' FORWARD policy DROP, a network
// gets its two accept rules in DOCKER-USER when it exists; its delete
// removes them.
func TestNetPlanCoexistence(t *testing.T) {
	st := newNetState()
	st.fwd = foreignState{filter: true, policyDrop: true, userChain: true}
	ops := planEnsureAll(st, []firewall.Network{netA}, nil)
	_, ipt := renderNet(ops)
	want := "*filter\n-I DOCKER-USER 1 -i pb-a -m comment --comment plumb:a -j ACCEPT\n" +
		"-I DOCKER-USER 1 -o pb-a -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment plumb:a -j ACCEPT\nCOMMIT\n"
	if ipt != want {
		t.Fatalf("iptables part:\n%s\nwant:\n%s", ipt, want)
	}
	if err := (&netChecker{st: st}).CheckNetwork(netA); err == nil || !strings.Contains(err.Error(), "FORWARD policy is DROP") {
		t.Fatalf("check before: %v", err)
	}
	st.apply(ops)
	if err := (&netChecker{st: st}).CheckNetwork(netA); err != nil {
		t.Fatalf("check after: %v", err)
	}
	step(t, st, planEnsureAll(st, []firewall.Network{netA}, nil), "")
	got, _ := renderNet(planDeleteNetwork(st, "a"))
	if strings.Count(got, "delete rule ip filter DOCKER-USER handle") != 2 || !strings.Contains(got, "delete table inet plumb-networks") {
		t.Fatalf("delete:\n%s", got)
	}
}

// TestNetSetsDefinitions: every set has a declaration nft reads, every
// chain rules.
func TestNetSetsDefinitions(t *testing.T) {
	for _, s := range netSetNames {
		if d := setDecl(s); !strings.HasPrefix(d, "type ") {
			t.Errorf("set %s: %q", s, d)
		}
	}
	for _, ch := range netChainNames {
		if len(netRules[ch]) == 0 || netChain(ch).Hooknum == nil {
			t.Errorf("chain %s: no rules or no hook", ch)
		}
	}
	if netSet(MapPorts).KeyType.Bytes != 8 || netSet(MapAddrPorts).KeyType.Bytes != 12 || netSet(MapICC).KeyType.Bytes != 32 {
		t.Errorf("key sizes: %d %d %d", netSet(MapPorts).KeyType.Bytes, netSet(MapAddrPorts).KeyType.Bytes, netSet(MapICC).KeyType.Bytes)
	}
	_ = nft.TypeIFName
}
