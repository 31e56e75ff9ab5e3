package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedInspect reads what a namespace's iptables hold at each
// step, and checks that reading changed nothing: not the ruleset, not the
// legacy tables in use.
func TestPrivilegedInspect(t *testing.T) {
	name, fw, _ := setup(t)
	n := firewall.Network{Name: "web", Bridge: "pb-insp", Subnet: netip.MustParsePrefix("10.77.0.0/24"), Masquerade: true, ICC: true}
	cleanupNets(t, name, fw, n)
	inspect := func() *HostFacts {
		t.Helper()
		var h *HostFacts
		before, legacyBefore := saveIn(t, name), legacyTables(t, name)
		inNS(t, name, func() (err error) { h, err = Inspect(); return err })
		if after := saveIn(t, name); after != before {
			t.Errorf("Inspect changed iptables-save:\n%s\nwas:\n%s", after, before)
		}
		if after := legacyTables(t, name); after != legacyBefore {
			t.Errorf("Inspect changed the legacy tables in use: %q, was %q", after, legacyBefore)
		}
		return h
	}
	holds := func(h *HostFacts) map[string]bool {
		out := map[string]bool{}
		for _, b := range h.Backends {
			out[b.Backend] = b.Holds()
		}
		return out
	}

	h := inspect()
	if h.Jump != 0 || h.ForwardPolicy != "" || holds(h)[BackendNFT] || holds(h)[BackendLegacy] {
		t.Errorf("fresh namespace: got jump %d policy %q holds %v", h.Jump, h.ForwardPolicy, holds(h))
	}
	if want := map[bool]string{true: BackendNFT, false: BackendLegacy}[nftMode(t)]; h.Backend != want {
		t.Errorf("Backend = %q, want %q", h.Backend, want)
	}

	inNS(t, name, func() error { return fw.EnsureNetwork(n) })
	h = inspect()
	if h.Jump != 1 || h.ForwardPolicy != "ACCEPT" || !holds(h)[h.Backend] {
		t.Errorf("after EnsureNetwork: got jump %d policy %q holds %v", h.Jump, h.ForwardPolicy, holds(h))
	}

	testutil.Run(t, "ip", "netns", "exec", name, "iptables", "-P", "FORWARD", "DROP")
	testutil.Run(t, "ip", "netns", "exec", name, "iptables", "-I", "FORWARD", "1", "-o", "pb-insp", "-j", "DROP")
	h = inspect()
	rs := h.Ahead(Packet{Out: "pb-insp", Dst: n.Subnet})
	if h.Jump != 2 || h.ForwardPolicy != "DROP" || len(rs) != 1 || rs[0].DeleteCommand() != "iptables -D FORWARD -o pb-insp -j DROP" {
		t.Errorf("with a drop above the jump: got jump %d policy %q ahead %v", h.Jump, h.ForwardPolicy, rs)
	}

	other := map[bool]string{true: "iptables-legacy", false: "iptables-nft"}[nftMode(t)]
	otherBackend := map[bool]string{true: BackendLegacy, false: BackendNFT}[nftMode(t)]
	testutil.Run(t, "ip", "netns", "exec", name, other, "-A", "FORWARD", "-j", "DROP")
	h = inspect()
	if !holds(h)[otherBackend] || !holds(h)[h.Backend] {
		t.Errorf("with a rule in %s too: holds %v", other, holds(h))
	}
}

// legacyTables is /proc/net/ip_tables_names in the namespace: the legacy
// tables in use there.
func legacyTables(t *testing.T, name string) string {
	t.Helper()
	out, err := testutil.InNS(name, "cat", "/proc/net/ip_tables_names")
	if err != nil {
		t.Fatalf("reading the legacy tables of %s: %v\n%s", name, err, out)
	}
	return out
}

// TestPrivilegedInspectIPv6: Inspect reads ip6tables too, without
// changing it or loading a legacy IPv6 table, and sees plumb's jump in
// ip6tables' FORWARD once a network has IPv6.
func TestPrivilegedInspectIPv6(t *testing.T) {
	name, fw, _ := setup(t)
	n := testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")
	cleanupNets(t, name, fw, n)
	before6 := save6In(t, name)
	names6 := func() string {
		out, _ := testutil.InNS(name, "cat", "/proc/net/ip6_tables_names")
		return strings.TrimSpace(out)
	}
	legacyBefore := names6()
	var h *HostFacts
	inNS(t, name, func() (err error) { h, err = Inspect(); return err })
	if h.IPv6 == nil || h.IPv6.Jump != 0 {
		t.Fatalf("fresh namespace: IPv6 facts %+v", h.IPv6)
	}
	if got := save6In(t, name); got != before6 || names6() != legacyBefore {
		t.Errorf("Inspect changed ip6tables: %s (legacy tables %q)", got, names6())
	}
	inNS(t, name, func() error { return fw.EnsureNetwork(n) })
	inNS(t, name, func() (err error) { h, err = Inspect(); return err })
	if h.IPv6 == nil || h.IPv6.Jump != 1 || h.IPv6.ForwardPolicy != "ACCEPT" {
		t.Errorf("after EnsureNetwork: IPv6 facts %+v", h.IPv6)
	}
	// ReadRuleset places the ip6tables rules (the first of PLUMB-FORWARD
	// is the jump to PLUMB-ISOLATION-1) and checks them.
	rs := (*Ruleset)(nil)
	inNS(t, name, func() (err error) { rs, err = ReadRuleset(); return err })
	if r := rulesOfFamily(Rules(n), true)[0]; rs.Position(r) != 2 || rs.Facts6 == nil {
		t.Errorf("ReadRuleset: the first ip6tables rule at %d, facts %+v (%v)", rs.Position(r), rs.Facts6, rs.Err6)
	}
	if err := rs.Checker().CheckNetwork(n); err != nil {
		t.Error(err)
	}
}
