package nat

import (
	"fmt"
	"strings"
)

// CheckNetwork reports whether n's rules, plumb's chains and the jumps into
// them are all in place, as EnsureNetwork would leave them. It changes
// nothing and takes no lock: one iptables-save. The error lists what is
// missing or out of place, as the iptables commands that would repair it.
// Equivalent to: `iptables-save` and reading it.
func (f *Firewall) CheckNetwork(n Network) error {
	if err := n.Validate(); err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	s, err := f.snapshot()
	if err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	p, err := planEnsure(s, n)
	if err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	if len(p.ops) == 0 {
		return nil
	}
	fix := make([]string, len(p.ops))
	for i, o := range p.ops {
		fix[i] = o.String()
	}
	return fmt.Errorf("firewall rules of network %q are not in place; plumb would run: %s", n.Name, strings.Join(fix, "; "))
}
