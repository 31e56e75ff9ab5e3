package integration

import (
	"strings"
	"testing"
)

// The firewall backends every firewall behaviour test runs on (issue 16):
// each such test is a table over them, one subtest per backend, named
// after it, so that `-run 'TestPrivilegedPorts/nftables'` runs one.
var backends = []string{"iptables", "nftables"}

// eachBackend runs f once per firewall backend, as subtest fw.
func eachBackend(t *testing.T, f func(t *testing.T, fw string)) {
	t.Helper()
	for _, fw := range backends {
		t.Run(fw, func(t *testing.T) { f(t, fw) })
	}
}

// newHostOn is newHost whose plumb commands, and the daemon they start,
// all use firewall backend fw: PLUMB_FIREWALL=fw in their environment.
func newHostOn(t *testing.T, fw string) *host {
	t.Helper()
	return newHost(t).on(fw)
}

// rootHostOn is rootHost on firewall backend fw.
func rootHostOn(t *testing.T, fw string) *host {
	t.Helper()
	return rootHost(t).on(fw)
}

// on makes every later plumb command of h, and its daemon, use firewall
// backend fw.
func (h *host) on(fw string) *host {
	h.fw = fw
	h.env = append(h.env, "PLUMB_FIREWALL="+fw)
	return h
}

// plumbTables are the nftables tables plumb owns: its networks' table
// (nftables backend) and the localnet guard (both backends).
const (
	nftNetworksTable = "table inet plumb-networks"
	nftGuardTable    = "table inet plumb"
)

// assertBackend fails the test unless h's networks really are on the
// backend h asked for. Call it with at least one network present.
//   - nftables: `nft list table inet plumb-networks` exists, and
//     iptables-save has no nat rule of plumb's, nor any filter rule of
//     plumb's unless FORWARD's policy is DROP (the coexistence ACCEPTs for
//     plumb's bridges, the only iptables rules the nftables backend may
//     write);
//   - iptables: no table inet plumb-networks, and plumb's chains
//     (PLUMB-...) in iptables-save.
func (h *host) assertBackend() {
	h.t.Helper()
	if h.fw == "" {
		return
	}
	_, tblErr := h.sh("nft", "list", "table", "inet", "plumb-networks")
	nat := shOut(h.t, h, "iptables-save", "-t", "nat")
	filter := shOut(h.t, h, "iptables-save", "-t", "filter")
	switch h.fw {
	case "nftables":
		if tblErr != nil {
			h.t.Fatalf("backend nftables: no %s: %v\n%s", nftNetworksTable, tblErr, nftRuleset(h.t, h))
		}
		if ownsRules(nat) {
			h.t.Fatalf("backend nftables: plumb rules in iptables' nat table:\n%s", nat)
		}
		if ownsRules(filter) && !strings.Contains(filter, ":FORWARD DROP") {
			h.t.Fatalf("backend nftables, FORWARD policy ACCEPT: plumb rules in iptables' filter table:\n%s", filter)
		}
	case "iptables":
		if tblErr == nil {
			h.t.Fatalf("backend iptables: %s exists:\n%s", nftNetworksTable, nftRuleset(h.t, h))
		}
		if !strings.Contains(filter+nat, "PLUMB-") {
			h.t.Fatalf("backend iptables: no PLUMB- chain in iptables-save:\n%s\n%s", filter, nat)
		}
	default:
		h.t.Fatalf("unknown backend %q", h.fw)
	}
}

// ownsRules reports whether an iptables-save output names plumb: one of
// its chains or a rule commented plumb:....
func ownsRules(save string) bool {
	return strings.Contains(save, "PLUMB") || strings.Contains(save, "plumb")
}

// assertNoPlumbFirewall fails the test if anything of plumb's firewall is
// left in h: a rule or chain in iptables-save, or one of plumb's nftables
// tables. For after the last network is gone.
func (h *host) assertNoPlumbFirewall() {
	h.t.Helper()
	if out := shOut(h.t, h, "iptables-save"); ownsRules(out) {
		h.t.Fatalf("rules left in iptables after the last network rm:\n%s", out)
	}
	rs := nftRuleset(h.t, h)
	for _, tbl := range []string{nftNetworksTable, nftGuardTable} {
		if strings.Contains(rs, tbl+" {") {
			h.t.Fatalf("%s left after the last network rm:\n%s", tbl, rs)
		}
	}
}
