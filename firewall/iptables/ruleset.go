package iptables

import "github.com/plumbnet/plumb/firewall"

// Ruleset is one reading of the host's rules for `plumb explain`: where a
// rule of plumb's sits in the kernel (or that it is missing), plumb's
// checks, and the host facts (FORWARD policy, the rules above plumb's
// jump), all from the same iptables-save. It changes nothing.
type Ruleset struct {
	s     *snapshot
	Facts *HostFacts
}

// ReadRuleset runs iptables-save once, takes no lock and changes nothing.
// Equivalent to: `iptables-save`.
func ReadRuleset() (*Ruleset, error) {
	out, err := saveOnce()
	if err != nil {
		return nil, err
	}
	return RulesetFromSave(out)
}

// saveOnce is one iptables-save of the calling thread's namespace, with
// no lock taken.
func saveOnce() ([]byte, error) {
	r, err := newExecRunner()
	if err != nil {
		return nil, err
	}
	return r.save()
}

// RulesetFromSave is ReadRuleset from the text of one iptables-save.
func RulesetFromSave(out []byte) (*Ruleset, error) {
	s, err := parseSave(out)
	if err != nil {
		return nil, err
	}
	return &Ruleset{s: s, Facts: factsOf(s, out)}, nil
}

// Position is where rule sits in its chain, from 1 as `iptables -S CHAIN`
// numbers the rules after the -N line; 0 when the kernel does not hold it.
func (rs *Ruleset) Position(rule Rule) int {
	c := rs.s.tables[rule.Table].chain(rule.Chain)
	if c == nil {
		return 0
	}
	key := specKey(rule.Spec)
	for i, r := range c.rules {
		if specKey(r) == key {
			return i + 1
		}
	}
	return 0
}

// Checker answers plumb's network and endpoint checks from this reading.
func (rs *Ruleset) Checker() firewall.Checker {
	return &checker{s: rs.s, plans: map[firewall.Network][]string{}}
}
