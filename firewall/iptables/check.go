package iptables

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/plumbnet/plumb/firewall"
)

// CheckNetwork reports whether n's rules, plumb's chains and the jumps into
// them are all in place: each chain exists, each jump is there (anywhere in
// its parent: other software inserting its own jump above plumb's, as the
// CNI portmap plugin does in POSTROUTING, moves it without breaking it),
// and n's rules are present, in order. It changes nothing and takes no
// lock: one iptables-save. The error lists every problem.
// Equivalent to: `iptables-save` and reading it.
func (f *Firewall) CheckNetwork(n firewall.Network) error { return f.CheckEndpoint(n, "", nil) }

// CheckEndpoint is CheckNetwork, and checks in the same iptables-save that
// the port rules of owner (PortRulesOn(n, owner, ports)) are there too.
// The ip6tables rules are read and checked only when n has IPv6 or a port
// is IPv6 (then one ip6tables-save more).
func (f *Firewall) CheckEndpoint(n firewall.Network, owner string, ports []firewall.Port) error {
	c := &checker{plans: map[firewall.Network][]string{}}
	var err error
	if c.s, err = f.snapshotOf(false); err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	if n.Subnet6.IsValid() || slices.ContainsFunc(ports, firewall.Port.Is6) {
		c.s6, c.err6 = f.snapshotOf(true)
	}
	return c.CheckEndpoint(n, owner, ports)
}

// Snapshot reads the ruleset once (one iptables-save, no lock) for many
// checks, and the ip6tables ruleset (one ip6tables-save) where ip6tables
// can be used; a failure to read the latter fails only the checks of
// networks with IPv6.
func (f *Firewall) Snapshot() (firewall.Checker, error) {
	s, err := f.snapshotOf(false)
	if err != nil {
		return nil, err
	}
	c := &checker{s: s, plans: map[firewall.Network][]string{}}
	if f.has6() {
		c.s6, c.err6 = f.snapshotOf(true)
	} else {
		_, c.err6 = f.runnerOf(true)
	}
	return c, nil
}

// checker answers checks from one iptables-save (and one ip6tables-save).
// It remembers what it found of each network, so that checking every
// endpoint of a network costs one network check and a map lookup per port
// rule.
type checker struct {
	s     *snapshot
	s6    *snapshot // nil when not read: err6 says why, if anything
	err6  error
	mu    sync.Mutex
	plans map[firewall.Network][]string // checkPlan(s, n)
}

func (c *checker) CheckNetwork(n firewall.Network) error { return c.CheckEndpoint(n, "", nil) }

// plan is checkPlan for n, computed once per network config.
func (c *checker) plan(n firewall.Network) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.plans[n]
	if !ok {
		for _, fm := range families(n) {
			if s, err := c.of(fm.v6); err != nil {
				p = append(p, err.Error())
			} else {
				p = append(p, checkPlan(s, n)...)
			}
		}
		c.plans[n] = p
	}
	return slices.Clip(p)
}

// of returns the snapshot of a family.
func (c *checker) of(v6 bool) (*snapshot, error) {
	switch {
	case !v6:
		return c.s, nil
	case c.s6 != nil:
		return c.s6, nil
	case c.err6 != nil:
		return nil, fmt.Errorf("ip6tables rules not read: %w", c.err6)
	}
	return nil, errors.New("ip6tables rules not read")
}

func (c *checker) CheckEndpoint(n firewall.Network, owner string, ports []firewall.Port) error {
	if err := n.Validate(); err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	if len(ports) > 0 {
		if err := firewall.ValidatePorts(n.Name, owner, ports); err != nil {
			return err
		}
	}
	problems := c.plan(n)
	for _, r := range PortRulesOn(n, owner, ports) {
		s, err := c.of(r.V6)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !s.tables[r.Table].chain(r.Chain).hasRule(r.Spec) {
			problems = append(problems, fmt.Sprintf("port rule missing (%s)", r))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("firewall rules of network %q are not in place: %s", n.Name, strings.Join(slices.Compact(problems), "; "))
	}
	return nil
}

// checkPlan lists what is missing or different in s, one family's
// ruleset, for n's rules of that family, as the iptables (ip6tables)
// command or rule each problem is about.
func checkPlan(s *snapshot, n firewall.Network) []string {
	var out []string
	want := rulesOfFamily(Rules(n), s.v6)
	comment := NetworkComment(n.Name)
	bin := binary(s.v6)
	for _, d := range skeletonOf(s.v6) {
		t := s.tables[d.table]
		if t != nil && t.incompatible {
			return []string{fmt.Sprintf("table %s: %s-save cannot show it (rules made by nft?)", d.table, bin)}
		}
		c := t.chain(d.name)
		if c == nil && d.lazy && !needed(d, want) {
			continue
		}
		if c == nil {
			out = append(out, fmt.Sprintf("chain %s missing (%s -t %s -N %s)", d.name, bin, d.table, d.name))
			continue
		}
		if d.parent != "" && !slices.ContainsFunc(t.chain(d.parent).rulesOrNil(), func(r []string) bool { return specValue(r, "-j") == d.name }) {
			out = append(out, fmt.Sprintf("jump missing (%s -t %s -I %s 1 %s)", bin, d.table, d.parent, joinSpec(d.jumpSpec(commentPlumb))))
		}
		var need [][]string
		for _, r := range want {
			if r.Table == d.table && r.Chain == d.name {
				need = append(need, r.Spec)
			}
		}
		if have := rulesWithComment(c, comment); !slices.EqualFunc(have, need, slices.Equal) {
			missing := len(out)
			for _, r := range need {
				if !slices.ContainsFunc(have, func(h []string) bool { return slices.Equal(h, r) }) {
					out = append(out, fmt.Sprintf("rule missing (%s -t %s -A %s %s)", bin, d.table, d.name, joinSpec(r)))
				}
			}
			if len(out) == missing {
				out = append(out, fmt.Sprintf("the %s rules of %s in %s are out of order or duplicated", bin, comment, d.name))
			}
		}
	}
	return out
}

// rulesOrNil returns c's rules; a missing chain has none.
func (c *chain) rulesOrNil() [][]string {
	if c == nil {
		return nil
	}
	return c.rules
}

// PortOwners lists, by network name, the owners of the port rules in
// plumb's chains (comment "plumb:NAME/OWNER"), of both families.
func (c *checker) PortOwners() map[string][]string {
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, v6 := range []bool{false, true} {
		s, err := c.of(v6)
		if err != nil {
			continue
		}
		for _, d := range skeletonOf(v6) {
			owners(s, d, seen, out)
		}
	}
	return out
}

// owners adds the port owners of chain d of s to out.
func owners(s *snapshot, d chainDef, seen map[string]bool, out map[string][]string) {
	for _, r := range s.tables[d.table].chain(d.name).rulesOrNil() {
		rest, ok := strings.CutPrefix(specValue(r, "--comment"), commentNetworkPrefix)
		netName, owner, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || seen[rest] {
			continue
		}
		seen[rest] = true
		out[netName] = append(out[netName], owner)
	}
}
