package nftables

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedNetScriptParses feeds the dry run's nft text of a first
// network with ports published on every address, one address and a
// loopback address, then of their deletion, to `nft -c -f -` (check
// mode: parsed and validated by the kernel, nothing changed) in a
// throwaway namespace: what a dry run prints must be what nft accepts.
func TestPrivilegedNetScriptParses(t *testing.T) {
	testutil.RequirePrivileged(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft command")
	}
	name := testutil.NewNetNS(t)
	st := newNetState()
	add := planEnsureAll(st, []firewall.Network{netA}, []firewall.Published{{Network: netA, Owner: "ep1", Ports: webA}})
	script, _ := renderNet(add)
	st.apply(add)
	del, _ := renderNet(planDeletePorts(st, "a", "ep1"))
	for _, s := range []string{script, script + del} {
		cmd := exec.Command("ip", "netns", "exec", name, "nft", "-c", "-f", "-")
		cmd.Stdin = strings.NewReader(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nft -c -f - rejects the dry run's script: %v\n%s\nscript:\n%s", err, out, s)
		}
	}
}

// TestPrivilegedNetScriptMatches6: the dry run's nft text of dual-stack
// and IPv6-only networks in every gateway mode, with IPv4 and IPv6 ports,
// applied by `nft -f` in one namespace, lists exactly as what the backend
// writes over netlink in another: the rules' text and their expressions
// say the same.
func TestPrivilegedNetScriptMatches6(t *testing.T) {
	testutil.RequirePrivileged(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("no nft command")
	}
	byScript, byNetlink := testutil.NewNetNS(t), testutil.NewNetNS(t)
	routed := netD
	routed.Name, routed.Bridge, routed.Mode4, routed.Mode6 = "r", "pb-r", firewall.ModeRouted, firewall.ModeRouted
	iso := net6
	iso.Name, iso.Bridge, iso.Mode6 = "iso", "pb-iso", firewall.ModeIsolated
	nets := []firewall.Network{netD, net6, routed, iso}
	pubs := []firewall.Published{{Network: netD, Owner: "ep1", Ports: webD}}
	script, _ := renderNet(planEnsureAll(newNetState(), nets, pubs))
	cmd := exec.Command("ip", "netns", "exec", byScript, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f - rejects the dry run's script: %v\n%s\nscript:\n%s", err, out, script)
	}
	f := newNetFW(t)
	inNS(t, byNetlink, func() error { _, err := f.EnsureAll(nets, pubs); return err })
	a, b := listedLines(ruleset(t, byScript)), listedLines(ruleset(t, byNetlink))
	if len(a) != len(b) {
		t.Fatalf("nft -f of the script lists %d lines, the backend's netlink writes %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("nft -f of the script lists\n%s\nthe backend's netlink writes\n%s", a[i], b[i])
		}
	}
}

// listedLines is the lines of an nft listing, sorted, each without the
// punctuation of a list of elements: the kernel lists a set's elements in
// an order of its own.
func listedLines(listing string) []string {
	var out []string
	for _, l := range strings.Split(listing, "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "elements = { ")
		l = strings.TrimSuffix(strings.TrimSuffix(l, ","), " }")
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}
