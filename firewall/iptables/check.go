package iptables

import (
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
// the port rules of owner (PortRules(n.Name, owner, ports)) are there too.
func (f *Firewall) CheckEndpoint(n firewall.Network, owner string, ports []firewall.Port) error {
	return firewall.CheckOnce(f, n, owner, ports)
}

// Snapshot reads the ruleset once (one iptables-save, no lock) for many
// checks.
func (f *Firewall) Snapshot() (firewall.Checker, error) {
	s, err := f.snapshot()
	if err != nil {
		return nil, err
	}
	return &checker{s: s, plans: map[firewall.Network][]string{}}, nil
}

// checker answers checks from one iptables-save. It remembers what it
// found of each network, so that checking every endpoint of a network
// costs one network check and a map lookup per port rule.
type checker struct {
	s     *snapshot
	mu    sync.Mutex
	plans map[firewall.Network][]string // checkPlan(s, n)
}

func (c *checker) CheckNetwork(n firewall.Network) error { return c.CheckEndpoint(n, "", nil) }

// plan is checkPlan(c.s, n), computed once per network config.
func (c *checker) plan(n firewall.Network) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.plans[n]
	if !ok {
		p = checkPlan(c.s, n)
		c.plans[n] = p
	}
	return slices.Clip(p)
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
	for _, r := range PortRules(n.Name, owner, ports) {
		if !c.s.tables[r.Table].chain(r.Chain).hasRule(r.Spec) {
			problems = append(problems, fmt.Sprintf("port rule missing (iptables -t %s -A %s %s)", r.Table, r.Chain, joinSpec(r.Spec)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("firewall rules of network %q are not in place: %s", n.Name, strings.Join(problems, "; "))
	}
	return nil
}

// checkPlan lists what is missing or different in s for n, as the
// iptables command or rule each problem is about.
func checkPlan(s *snapshot, n firewall.Network) []string {
	var out []string
	want := Rules(n)
	comment := NetworkComment(n.Name)
	for _, d := range skeleton {
		t := s.tables[d.table]
		if t != nil && t.incompatible {
			return []string{fmt.Sprintf("table %s: iptables-save cannot show it (rules made by nft?)", d.table)}
		}
		c := t.chain(d.name)
		if c == nil {
			out = append(out, fmt.Sprintf("chain %s missing (iptables -t %s -N %s)", d.name, d.table, d.name))
			continue
		}
		if d.parent != "" && !slices.ContainsFunc(t.chain(d.parent).rulesOrNil(), func(r []string) bool { return specValue(r, "-j") == d.name }) {
			out = append(out, fmt.Sprintf("jump missing (iptables -t %s -I %s 1 %s)", d.table, d.parent, joinSpec(d.jumpSpec(commentPlumb))))
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
					out = append(out, fmt.Sprintf("rule missing (iptables -t %s -A %s %s)", d.table, d.name, joinSpec(r)))
				}
			}
			if len(out) == missing {
				out = append(out, fmt.Sprintf("the rules of %s in %s are out of order or duplicated", comment, d.name))
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
// plumb's nat chains (comment "plumb:NAME/OWNER").
func (c *checker) PortOwners() map[string][]string {
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, d := range skeleton {
		if d.table != TableNAT {
			continue
		}
		for _, r := range c.s.tables[d.table].chain(d.name).rulesOrNil() {
			rest, ok := strings.CutPrefix(specValue(r, "--comment"), commentNetworkPrefix)
			netName, owner, ok2 := strings.Cut(rest, "/")
			if !ok || !ok2 || seen[rest] {
				continue
			}
			seen[rest] = true
			out[netName] = append(out[netName], owner)
		}
	}
	return out
}
