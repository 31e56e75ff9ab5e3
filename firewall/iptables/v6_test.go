package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

// testNet6 is a dual-stack network: testNet with an IPv6 subnet.
func testNet6(name, br, subnet, subnet6 string) firewall.Network {
	n := testNet(name, br, subnet)
	n.Subnet6 = netip.MustParsePrefix(subnet6)
	return n
}

// testNetOnly6 is an IPv6-only network.
func testNetOnly6(name, br, subnet6 string) firewall.Network {
	return firewall.Network{Name: name, Bridge: br, Subnet6: netip.MustParsePrefix(subnet6), ICC: true, Masquerade: true}
}

func ruleLines(rs []Rule) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return strings.Join(out, "\n")
}

func TestRulesIPv6(t *testing.T) {
	const c = " -m comment --comment plumb:web"
	f := "ip6tables -t filter -A PLUMB-FORWARD "
	head := []string{f + "-o br-web -m conntrack --ctstate RELATED,ESTABLISHED" + c + " -j ACCEPT"}
	dnat := f + "! -i br-web -o br-web -m conntrack --ctstate DNAT" + c + " -j ACCEPT"
	icc := f + "-i br-web -o br-web" + c + " -j ACCEPT"
	out := f + "-i br-web ! -o br-web" + c + " -j ACCEPT"
	inDrop := f + "! -i br-web -o br-web" + c + " -j DROP"
	iso := []string{
		"ip6tables -t filter -A PLUMB-ISOLATION-1 -i br-web ! -o br-web" + c + " -j PLUMB-ISOLATION-2",
		"ip6tables -t filter -A PLUMB-ISOLATION-2 -o br-web" + c + " -j DROP",
	}
	masq := "ip6tables -t nat -A PLUMB-POSTROUTING -s fd00:1::/64 ! -o br-web" + c + " -j MASQUERADE"
	hairpin := "ip6tables -t nat -A PLUMB-POSTROUTING -s fd00:1::/64 -o br-web -m conntrack --ctstate DNAT" + c + " -j MASQUERADE"
	routed := []string{
		f + "! -i br-web -o br-web -p ipv6-icmp" + c + " -j ACCEPT",
		f + "! -i br-web -o br-web" + c + " -j PLUMB-ROUTED",
		inDrop,
	}
	blocked := []string{f + "-i br-web ! -o br-web" + c + " -j DROP", inDrop}

	nat := testNetOnly6("web", "br-web", "fd00:1::5/64")
	mode := func(m string) firewall.Network { n := nat; n.Mode6 = m; return n }
	internal := nat
	internal.Internal = true
	join := func(parts ...any) string {
		var s []string
		for _, p := range parts {
			switch p := p.(type) {
			case string:
				s = append(s, p)
			case []string:
				s = append(s, p...)
			}
		}
		return strings.Join(s, "\n")
	}
	for _, tc := range []struct {
		name string
		n    firewall.Network
		want string
	}{
		{"nat", nat, join(head, dnat, icc, out, inDrop, iso, masq, hairpin)},
		{"nat-unprotected", mode(firewall.ModeNATUnprotected), join(head, dnat, icc, out, f+"! -i br-web -o br-web"+c+" -j ACCEPT", iso, masq, hairpin)},
		{"routed", mode(firewall.ModeRouted), join(head, dnat, icc, out, routed, iso, hairpin)},
		{"isolated", mode(firewall.ModeIsolated), join(head, icc, blocked, iso)},
		{"internal", internal, join(head, icc, blocked, iso)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ruleLines(Rules(tc.n)); got != tc.want {
				t.Errorf("Rules:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestRulesDualStackPerFamily(t *testing.T) {
	v4 := testNet("web", "br-web", "172.30.0.0/24")
	dual := testNet6("web", "br-web", "172.30.0.0/24", "fd00:1::/64")
	// The IPv4 rules of a dual-stack network are those of the IPv4-only one.
	if got, want := ruleLines(rulesOfFamily(Rules(dual), false)), ruleLines(Rules(v4)); got != want {
		t.Errorf("IPv4 rules of a dual-stack network:\n%s\nwant:\n%s", got, want)
	}
	if len(rulesOfFamily(Rules(v4), true)) != 0 {
		t.Error("an IPv4-only network has ip6tables rules")
	}
	// IPv4 routed and isolated, IPv6 nat: each family by its own mode.
	dual.Mode4 = firewall.ModeRouted
	r4 := ruleLines(rulesOfFamily(Rules(dual), false))
	for _, want := range []string{"-p icmp -m comment --comment plumb:web -j ACCEPT", "-j PLUMB-ROUTED"} {
		if !strings.Contains(r4, want) {
			t.Errorf("routed IPv4 rules lack %q:\n%s", want, r4)
		}
	}
	if strings.Contains(r4, "! -o br-web -m comment --comment plumb:web -j MASQUERADE") {
		t.Errorf("routed IPv4 masquerades:\n%s", r4)
	}
	if r6 := ruleLines(rulesOfFamily(Rules(dual), true)); !strings.Contains(r6, "-s fd00:1::/64 ! -o br-web -m comment --comment plumb:web -j MASQUERADE") {
		t.Errorf("nat IPv6 of a routed-IPv4 network does not masquerade:\n%s", r6)
	}
	dual.Mode4 = firewall.ModeIsolated
	r4 = ruleLines(rulesOfFamily(Rules(dual), false))
	if !strings.Contains(r4, "-i br-web ! -o br-web -m comment --comment plumb:web -j DROP") || strings.Contains(r4, "MASQUERADE") {
		t.Errorf("isolated IPv4 rules:\n%s", r4)
	}
	// The IPv6 rules never hold the route_localnet guard or the loopback masquerade.
	if r6 := ruleLines(rulesOfFamily(Rules(dual), true)); strings.Contains(r6, "127.0.0.0/8") || strings.Contains(r6, "PLUMB-INPUT") {
		t.Errorf("IPv6 rules with IPv4 loopback parts:\n%s", r6)
	}
}

func TestPortRulesIPv6(t *testing.T) {
	c6 := netip.MustParseAddr("fd00:1::2")
	ports := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: c6, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.IPv6Unspecified(), HostPort: 8081, ContainerIP: c6, ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("2001:db8::7"), HostPort: 53, ContainerIP: c6, ContainerPort: 5353},
		{Proto: "tcp", HostIP: netip.IPv6Loopback(), HostPort: 9090, ContainerIP: c6, ContainerPort: 80},
	}
	const c = " -m comment --comment plumb:a/ep1"
	want := strings.Join([]string{
		"ip6tables -t nat -A PLUMB-PREROUTING -p tcp -m tcp --dport 8080" + c + " -j DNAT --to-destination [fd00:1::2]:80",
		"ip6tables -t nat -A PLUMB-OUTPUT -p tcp -m tcp --dport 8080" + c + " -j DNAT --to-destination [fd00:1::2]:80",
		"ip6tables -t nat -A PLUMB-PREROUTING -p tcp -m tcp --dport 8081" + c + " -j DNAT --to-destination [fd00:1::2]:80",
		"ip6tables -t nat -A PLUMB-OUTPUT -p tcp -m tcp --dport 8081" + c + " -j DNAT --to-destination [fd00:1::2]:80",
		"ip6tables -t nat -A PLUMB-PREROUTING -d 2001:db8::7/128 -p udp -m udp --dport 53" + c + " -j DNAT --to-destination [fd00:1::2]:5353",
		"ip6tables -t nat -A PLUMB-OUTPUT -d 2001:db8::7/128 -p udp -m udp --dport 53" + c + " -j DNAT --to-destination [fd00:1::2]:5353",
	}, "\n")
	if got := ruleLines(PortRules("a", "ep1", ports)); got != want {
		t.Errorf("PortRules:\n%s\nwant:\n%s", got, want)
	}
	// On a nat network PortRulesOn adds nothing; routed, one accept per
	// container address and port, the [::1] one's included.
	n := testNetOnly6("a", "br-a", "fd00:1::/64")
	if got := ruleLines(PortRulesOn(n, "ep1", ports)); got != want {
		t.Errorf("PortRulesOn, nat:\n%s\nwant:\n%s", got, want)
	}
	n.Mode6 = firewall.ModeRouted
	want += "\n" + strings.Join([]string{
		"ip6tables -t filter -A PLUMB-ROUTED -d fd00:1::2/128 -o br-a -p tcp -m tcp --dport 80" + c + " -j ACCEPT",
		"ip6tables -t filter -A PLUMB-ROUTED -d fd00:1::2/128 -o br-a -p udp -m udp --dport 5353" + c + " -j ACCEPT",
	}, "\n")
	if got := ruleLines(PortRulesOn(n, "ep1", ports)); got != want {
		t.Errorf("PortRulesOn, routed:\n%s\nwant:\n%s", got, want)
	}
}

// newFake6 is a Firewall over two fakes, iptables and ip6tables.
func newFake6() (*Firewall, *fakeIPT, *fakeIPT) {
	f4, f6 := newFake(), newFake()
	return newFirewall6(f4, f6, ""), f4, f6
}

func TestDualStackEnsureAndDelete(t *testing.T) {
	fw, f4, f6 := newFake6()
	a := testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")
	b := testNetOnly6("b", "br-b", "fd00:2::/64")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if f4.saves != 1 || len(f4.payloads) != 1 || f6.saves != 1 || len(f6.payloads) != 1 {
		t.Fatalf("dual-stack EnsureNetwork: iptables %d saves %d restores, ip6tables %d %d; want 1 each",
			f4.saves, len(f4.payloads), f6.saves, len(f6.payloads))
	}
	for _, want := range []string{"-N PLUMB-FORWARD\n", "-A PLUMB-FORWARD ! -i br-a -o br-a -m comment --comment plumb:a -j DROP\n",
		"-I OUTPUT 1 ! -d ::1/128 -m addrtype --dst-type LOCAL -m comment --comment \"plumb created-table\" -j PLUMB-OUTPUT\n"} {
		if !strings.Contains(f6.payloads[0], want) {
			t.Errorf("ip6tables payload lacks %q:\n%s", want, f6.payloads[0])
		}
	}
	if strings.Contains(f6.payloads[0], "PLUMB-INPUT") || strings.Contains(f6.payloads[0], "PLUMB-ROUTED") {
		t.Errorf("ip6tables payload with PLUMB-INPUT or an unneeded PLUMB-ROUTED:\n%s", f6.payloads[0])
	}
	// An IPv6-only network: no iptables command at all.
	if err := fw.EnsureNetwork(b); err != nil {
		t.Fatal(err)
	}
	if f4.saves != 1 {
		t.Errorf("IPv6-only EnsureNetwork read iptables")
	}
	if err := fw.CheckNetwork(a); err != nil {
		t.Error(err)
	}
	if err := fw.CheckNetwork(b); err != nil {
		t.Error(err)
	}
	ports := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80},
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:1::2"), ContainerPort: 80},
	}
	if err := fw.AddPorts(a, "ep", ports); err != nil {
		t.Fatal(err)
	}
	if err := fw.CheckEndpoint(a, "ep", ports); err != nil {
		t.Error(err)
	}
	if got := fw.mustSnapshot(t).PortOwners(); len(got["a"]) != 1 {
		t.Errorf("PortOwners %v", got)
	}
	if err := fw.DeletePortsOf("a", "ep", ports); err != nil {
		t.Fatal(err)
	}
	if err := fw.CheckEndpoint(a, "ep", ports[1:]); err == nil || !strings.Contains(err.Error(), "ip6tables -t nat -A PLUMB-PREROUTING") {
		t.Errorf("check of an unpublished IPv6 port: %v", err)
	}
	for _, name := range []string{"a", "b"} {
		if err := fw.DeleteNetwork(name); err != nil {
			t.Fatal(err)
		}
	}
	if s4, s6 := mustSave(t, f4), mustSave(t, f6); s4 != "" || s6 != "" {
		t.Errorf("after the last delete:\niptables-save\n%s\nip6tables-save\n%s\nwant both empty", s4, s6)
	}
}

func (f *Firewall) mustSnapshot(t *testing.T) firewall.Checker {
	t.Helper()
	c, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestIPv4OnlyNeverRunsIP6tables: an IPv4-only network and its IPv4 ports
// cost no ip6tables command, save the calls that cannot know the family.
func TestIPv4OnlyNeverRunsIP6tables(t *testing.T) {
	fw, _, f6 := newFake6()
	a := testNet("a", "br-a", "10.1.0.0/24")
	p := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80}}
	for _, err := range []error{fw.EnsureNetwork(a), fw.AddPorts(a, "ep", p), fw.CheckEndpoint(a, "ep", p),
		fw.DeletePortsOf("a", "ep", p)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fw.EnsureAll([]firewall.Network{a}, []firewall.Published{{Network: a, Owner: "ep", Ports: p}}); err != nil {
		t.Fatal(err)
	}
	if f6.saves != 0 || len(f6.payloads) != 0 {
		t.Errorf("ip6tables: %d saves, %d restores; want none", f6.saves, len(f6.payloads))
	}
	if err := fw.DeleteNetwork("a"); err != nil { // reads ip6tables: the name alone does not tell
		t.Fatal(err)
	}
	if len(f6.payloads) != 0 {
		t.Errorf("DeleteNetwork of an IPv4-only network wrote ip6tables: %q", f6.payloads)
	}
}

// TestWithoutIP6tables: without ip6tables, IPv4 works as ever and a
// network with IPv6 is refused before anything is written.
func TestWithoutIP6tables(t *testing.T) {
	f4 := newFake()
	fw := newFirewall(f4, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	before := mustSave(t, f4)
	dual := testNet6("d", "br-d", "10.2.0.0/24", "fd00:2::/64")
	if err := fw.EnsureNetwork(dual); err == nil || !strings.Contains(err.Error(), "ip6tables") {
		t.Errorf("EnsureNetwork of a dual-stack network without ip6tables: %v", err)
	}
	if after := mustSave(t, f4); after != before {
		t.Errorf("a refused EnsureNetwork changed iptables:\n%s", after)
	}
	if _, err := fw.Snapshot(); err != nil {
		t.Error(err)
	}
	if err := fw.CheckNetwork(a); err != nil {
		t.Error(err)
	}
	if err := fw.DeleteNetwork("a"); err != nil {
		t.Fatal(err)
	}
	if s := mustSave(t, f4); s != "" {
		t.Errorf("after the last delete:\n%s", s)
	}
}

// TestIPv6FailureUndoesIPv4: when the ip6tables restore fails (twice: the
// retry too), the iptables change made before it is taken back.
func TestIPv6FailureUndoesIPv4(t *testing.T) {
	fw, f4, f6 := newFake6()
	other := testNet("o", "br-o", "10.9.0.0/24")
	if err := fw.EnsureNetwork(other); err != nil {
		t.Fatal(err)
	}
	before4, before6 := mustSave(t, f4), mustSave(t, f6)
	a := testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")
	f6.failRestores = 2
	if err := fw.EnsureNetwork(a); err == nil {
		t.Fatal("EnsureNetwork succeeded with a failing ip6tables-restore")
	}
	if after := mustSave(t, f4); after != before4 {
		t.Errorf("iptables after the failed EnsureNetwork:\n%s\nwant as before:\n%s", after, before4)
	}
	if after := mustSave(t, f6); after != before6 {
		t.Errorf("ip6tables changed:\n%s", after)
	}
	// A config change of an existing network (rules deleted and appended)
	// is undone in place too.
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	before4 = mustSave(t, f4)
	b := a
	b.ICC = false
	f6.failRestores = 2
	if err := fw.EnsureNetwork(b); err == nil {
		t.Fatal("EnsureNetwork succeeded with a failing ip6tables-restore")
	}
	if after := mustSave(t, f4); after != before4 {
		t.Errorf("iptables after the failed config change:\n%s\nwant as before:\n%s", after, before4)
	}
	// AddPorts: the IPv4 port rules go again.
	ports := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80},
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:1::2"), ContainerPort: 80},
	}
	f6.failRestores = 2 // the add and its retry (the repair in between finds nothing to do)
	if err := fw.AddPorts(a, "ep", ports); err == nil {
		t.Fatal("AddPorts succeeded with a failing ip6tables-restore")
	}
	if after := mustSave(t, f4); after != before4 {
		t.Errorf("iptables after the failed AddPorts:\n%s\nwant as before:\n%s", after, before4)
	}
}

func TestRoutedPortsAndLazyChain(t *testing.T) {
	fw, f4, f6 := newFake6()
	a := testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")
	a.Mode6 = firewall.ModeRouted
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mustSave(t, f4), ChainRouted) {
		t.Error("PLUMB-ROUTED in iptables for a network routed for IPv6 only")
	}
	if !strings.Contains(mustSave(t, f6), ":"+ChainRouted+" -") {
		t.Errorf("no PLUMB-ROUTED in ip6tables:\n%s", mustSave(t, f6))
	}
	p := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:1::2"), ContainerPort: 80}}
	if err := fw.AddPorts(a, "ep", p); err != nil {
		t.Fatal(err)
	}
	if got := rulesOf(f6, TableFilter, ChainRouted); len(got) != 1 || !strings.Contains(got[0], "-d fd00:1::2/128 -o br-a -p tcp -m tcp --dport 80") {
		t.Errorf("PLUMB-ROUTED: %q", got)
	}
	if err := fw.CheckEndpoint(a, "ep", p); err != nil {
		t.Error(err)
	}
	if err := fw.DeletePorts("a", "ep"); err != nil {
		t.Fatal(err)
	}
	if got := rulesOf(f6, TableFilter, ChainRouted); len(got) != 0 {
		t.Errorf("PLUMB-ROUTED after DeletePorts: %q", got)
	}
	if err := fw.DeleteNetwork("a"); err != nil {
		t.Fatal(err)
	}
	if s4, s6 := mustSave(t, f4), mustSave(t, f6); s4 != "" || s6 != "" {
		t.Errorf("after the last delete:\n%s\n%s", s4, s6)
	}
}

func TestEnsureAllDualStackAfterFlush(t *testing.T) {
	fw, f4, f6 := newFake6()
	a := testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")
	b := testNetOnly6("b", "br-b", "fd00:2::/64")
	b.Mode6 = firewall.ModeRouted
	pb := []firewall.Port{{Proto: "udp", HostPort: 53, ContainerIP: netip.MustParseAddr("fd00:2::2"), ContainerPort: 53}}
	pubs := []firewall.Published{{Network: b, Owner: "e", Ports: pb}}
	if _, err := fw.EnsureAll([]firewall.Network{a, b}, pubs); err != nil {
		t.Fatal(err)
	}
	whole4, whole6 := mustSave(t, f4), mustSave(t, f6)
	f4.tables, f6.tables = map[string]*memTable{}, map[string]*memTable{}
	n4, n6 := len(f4.payloads), len(f6.payloads)
	changed, err := fw.EnsureAll([]firewall.Network{a, b}, pubs)
	if err != nil || !changed {
		t.Fatalf("EnsureAll after a flush: %v, changed %v", err, changed)
	}
	if len(f4.payloads) != n4+1 || len(f6.payloads) != n6+1 {
		t.Errorf("EnsureAll: %d iptables and %d ip6tables restores, want 1 each", len(f4.payloads)-n4, len(f6.payloads)-n6)
	}
	if mustSave(t, f4) != whole4 || mustSave(t, f6) != whole6 {
		t.Errorf("EnsureAll did not put everything back:\n%s\n%s", mustSave(t, f4), mustSave(t, f6))
	}
	if changed, err := fw.EnsureAll([]firewall.Network{a, b}, pubs); changed || err != nil {
		t.Errorf("second EnsureAll: changed %v, %v", changed, err)
	}
}

func TestScriptPrintsIP6tables(t *testing.T) {
	f4, f6 := newFake(), newFake()
	rec := &recorder{}
	fw := newFirewall6(&scriptRunner{read: f4, out: rec}, &scriptRunner{read: f6, out: rec, v6: true}, "")
	a := testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if len(rec.payloads) != 2 || !strings.HasPrefix(rec.payloads[0], "iptables-restore --noflush\n") ||
		!strings.HasPrefix(rec.payloads[1], "ip6tables-restore --noflush\n*filter\n") {
		t.Errorf("script: %q", rec.payloads)
	}
	if f6.saves != 1 || len(f6.payloads) != 0 {
		t.Errorf("the dry run wrote ip6tables")
	}
	if err := fw.DeleteNetwork("a"); err != nil {
		t.Fatal(err)
	}
	if last := rec.payloads[len(rec.payloads)-1]; !strings.HasPrefix(last, "ip6tables-restore") {
		t.Errorf("last script step %q, want an ip6tables-restore", last)
	}
}
