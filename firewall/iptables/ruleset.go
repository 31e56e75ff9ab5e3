package iptables

import "github.com/plumbnet/plumb/firewall"

// Ruleset is one reading of the host's rules for `plumb explain`: where a
// rule of plumb's sits in the kernel (or that it is missing), plumb's
// checks, and the host facts (FORWARD policy, the rules above plumb's
// jump), all from the same iptables-save, and the same of ip6tables from
// one ip6tables-save. It changes nothing.
type Ruleset struct {
	s     *snapshot
	Facts *HostFacts
	// s6 and Facts6 are the ip6tables reading; nil when ip6tables could
	// not be read (Err6 says why).
	s6     *snapshot
	Facts6 *HostFacts
	Err6   error
}

// ReadRuleset runs iptables-save once, and ip6tables-save once where
// ip6tables is installed and the kernel has IPv6; it takes no lock and
// changes nothing. Equivalent to: `iptables-save; ip6tables-save`.
func ReadRuleset() (*Ruleset, error) {
	out, err := saveOnce()
	if err != nil {
		return nil, err
	}
	rs, err := RulesetFromSave(out)
	if err != nil {
		return nil, err
	}
	out6, err := save6Once()
	if err == nil {
		err = rs.AddSave6(out6)
	}
	rs.Err6 = err
	return rs, nil
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

// save6Once is one ip6tables-save of the calling thread's namespace, with
// no lock taken; an error when ip6tables or IPv6 is missing.
func save6Once() ([]byte, error) {
	r, err := newFamilyRunner(true)
	if err != nil {
		return nil, err
	}
	f := &Firewall{run6: r, ipv6: kernelHasIPv6}
	if _, err := f.runnerOf(true); err != nil {
		return nil, err
	}
	return r.save()
}

// RulesetFromSave is ReadRuleset from the text of one iptables-save (no
// ip6tables reading: see AddSave6).
func RulesetFromSave(out []byte) (*Ruleset, error) {
	s, err := parseSave(out)
	if err != nil {
		return nil, err
	}
	return &Ruleset{s: s, Facts: factsOf(s, out)}, nil
}

// AddSave6 adds the text of one ip6tables-save to rs.
func (rs *Ruleset) AddSave6(out []byte) error {
	s, err := parseSave(out)
	if err != nil {
		return err
	}
	s.v6 = true
	rs.s6, rs.Facts6, rs.Err6 = s, factsOf(s, out), nil
	return nil
}

// Position is where rule sits in its chain, from 1 as `iptables -S CHAIN`
// (`ip6tables -S CHAIN` for a V6 rule) numbers the rules after the -N
// line; 0 when the kernel does not hold it or ip6tables was not read.
func (rs *Ruleset) Position(rule Rule) int {
	s := rs.s
	if rule.V6 {
		s = rs.s6
	}
	if s == nil {
		return 0
	}
	c := s.tables[rule.Table].chain(rule.Chain)
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
	c := &checker{s: rs.s, s6: rs.s6, err6: rs.Err6, plans: map[firewall.Network][]string{}}
	if c.s6 == nil && c.err6 == nil {
		c.err6 = errNoIP6tables
	}
	return c
}
