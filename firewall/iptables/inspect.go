package iptables

import (
	"bytes"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Backend names, as `iptables --version` prints them.
const (
	BackendNFT    = "nf_tables"
	BackendLegacy = "legacy"
)

// HostFacts is what the host's iptables say about plumb's place in them,
// read once for `plumb doctor`: the FORWARD chain's policy, where plumb's
// jump sits in it and what lies above it (Ahead), and what each iptables
// backend holds. It is a reading, not a view: it changes nothing and
// nothing changes it.
type HostFacts struct {
	// Backend is the backend plumb's iptables writes to: BackendNFT or
	// BackendLegacy; "" when it cannot tell.
	Backend string
	// ForwardPolicy is the policy of the filter table's FORWARD chain,
	// "ACCEPT" or "DROP"; "" when the filter table does not exist
	// (iptables-nft before its first use), which forwards everything.
	ForwardPolicy string
	// Jump is the position, from 1, of plumb's jump FORWARD ->
	// PLUMB-FORWARD; 0 when it is missing.
	Jump int
	// Backends is what each installed backend holds, legacy first; a
	// backend whose save command is missing or fails is left out.
	Backends []BackendRules
	// IPv6 is the same reading of ip6tables (ip6tables-save,
	// ip6tables-legacy-save, ip6tables-nft-save), whose FORWARD chain
	// plumb's IPv6 networks go through; nil where ip6tables cannot be read
	// (not installed, or no IPv6 in the kernel).
	IPv6 *HostFacts

	filter *table
}

// BackendRules sums up what one iptables backend holds in the current
// network namespace.
type BackendRules struct {
	Backend string // BackendLegacy or BackendNFT
	Save    string // the command that lists its rules: "iptables-legacy-save"
	Rules   int    // rules, in every table
	Chains  int    // user-defined chains
	// Policies lists the built-in chains whose policy is not ACCEPT, as
	// "filter FORWARD DROP".
	Policies []string
	// Unreadable lists the tables iptables-save cannot show (made by nft).
	Unreadable []string
}

// Holds reports whether the backend holds anything that filters or
// rewrites traffic: a rule, a user chain, a policy that is not ACCEPT or
// a table it cannot show. Empty tables with ACCEPT policies hold nothing.
func (b BackendRules) Holds() bool {
	return b.Rules > 0 || b.Chains > 0 || len(b.Policies) > 0 || len(b.Unreadable) > 0
}

// Inspect reads the host's iptables for `plumb doctor`: plumb's view with
// the iptables-save plumb uses, and each backend's with
// iptables-legacy-save and iptables-nft-save, whichever are installed
// (plumb's own backend is not read twice); the same of ip6tables in
// IPv6. It changes nothing, takes no lock and loads no table. It works in
// the network namespace of the calling thread. Equivalent to:
//
//	iptables-save; iptables-legacy-save; iptables-nft-save
//	ip6tables-save; ip6tables-legacy-save; ip6tables-nft-save
func Inspect() (*HostFacts, error) {
	out, err := saveOnce()
	if err != nil {
		return nil, err
	}
	h, err := inspectFamily(out, false)
	if err != nil {
		return nil, err
	}
	if out6, err := save6Once(); err == nil {
		h.IPv6, _ = inspectFamily(out6, true)
	}
	return h, nil
}

// inspectFamily is Inspect of one family from its save command's out.
func inspectFamily(out []byte, v6 bool) (*HostFacts, error) {
	s, err := parseSave(out)
	if err != nil {
		return nil, err
	}
	s.v6 = v6
	h := factsOf(s, out)
	bin := binary(v6)
	if h.Backend == "" {
		h.Backend = backendOfBinary(bin)
	}
	for _, b := range []struct{ backend, save string }{
		{BackendLegacy, bin + "-legacy-save"},
		{BackendNFT, bin + "-nft-save"},
	} {
		if b.backend == h.Backend {
			h.Backends = append(h.Backends, summarize(b.backend, b.save, s))
		} else if other := readOther(b.save); other != nil {
			h.Backends = append(h.Backends, summarize(b.backend, b.save, other))
		}
	}
	return h, nil
}

// FactsFromSave is Inspect from the text of one iptables-save, with no
// other backend read: for tests, and for a ruleset saved earlier.
func FactsFromSave(out []byte) (*HostFacts, error) {
	s, err := parseSave(out)
	if err != nil {
		return nil, err
	}
	return factsOf(s, out), nil
}

// factsOf reads plumb's facts from s, the parse of out.
func factsOf(s *snapshot, out []byte) *HostFacts {
	h := &HostFacts{filter: s.tables[TableFilter]}
	switch {
	case s.nft:
		h.Backend = BackendNFT
	case len(bytes.TrimSpace(out)) > 0:
		h.Backend = BackendLegacy // iptables-nft says "(nf_tables)" in its header
	}
	if fwd := h.filter.chain("FORWARD"); fwd != nil {
		h.ForwardPolicy = fwd.policy
		for i, r := range fwd.rules {
			if specValue(r, "-j") == ChainForward {
				h.Jump = i + 1
				break
			}
		}
	}
	return h
}

// backendOfBinary tells the backend of bin (`iptables`, `ip6tables`)
// from the binary it resolves to (xtables-nft-multi or
// xtables-legacy-multi), for a host whose iptables-save printed nothing.
// Equivalent to: `readlink -f $(command -v iptables)`.
func backendOfBinary(bin string) string {
	p, err := exec.LookPath(bin)
	if err != nil {
		return ""
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return ""
	}
	switch base := filepath.Base(real); {
	case strings.Contains(base, "nft"):
		return BackendNFT
	case strings.Contains(base, "legacy"):
		return BackendLegacy
	}
	return ""
}

// readOther runs save (iptables-legacy-save or iptables-nft-save) and
// parses it; nil when it is not installed or fails (a kernel without
// that backend). iptables-legacy-save lists only the tables already used
// in the namespace and creates none.
func readOther(save string) *snapshot {
	p, err := exec.LookPath(save)
	if err != nil {
		return nil
	}
	out, err := exec.Command(p).Output()
	if err != nil {
		return nil
	}
	s, err := parseSave(out)
	if err != nil {
		return nil
	}
	return s
}

// summarize counts what s holds.
func summarize(backend, save string, s *snapshot) BackendRules {
	b := BackendRules{Backend: backend, Save: save}
	for _, name := range slices.Sorted(maps.Keys(s.tables)) {
		t := s.tables[name]
		if t.incompatible {
			b.Unreadable = append(b.Unreadable, name)
			continue
		}
		for _, cn := range t.order {
			c := t.chains[cn]
			b.Rules += len(c.rules)
			switch {
			case !c.builtin():
				b.Chains++
			case c.policy != "ACCEPT":
				b.Policies = append(b.Policies, name+" "+cn+" "+c.policy)
			}
		}
	}
	return b
}
