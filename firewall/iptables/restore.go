package iptables

import (
	"errors"
	"fmt"

	"github.com/plumbnet/plumb/firewall"
)

// EnsureAll makes plumb's chains and jumps, the rules of every network of
// nets and the port rules of every owner of pubs present exactly once, as
// EnsureNetwork and AddPorts make them, with one iptables-save and one
// `iptables-restore --noflush`: after a flush (`iptables -F; iptables -X;
// iptables -t nat -F; iptables -t nat -X`) everything plumb had is put back
// in one write, each table atomically. An owner's port rules that differ
// from those listed are replaced. Networks and owners not listed are left
// alone. If the restore fails (the ruleset changed under it) it reads
// again and retries once. It reports whether it wrote anything.
func (f *Firewall) EnsureAll(nets []firewall.Network, pubs []firewall.Published) (changed bool, err error) {
	for _, n := range nets {
		if err := n.Validate(); err != nil {
			return false, fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
		}
	}
	for _, pb := range pubs {
		if err := firewall.ValidatePorts(pb.Network.Name, pb.Owner, pb.Ports); err != nil {
			return false, err
		}
	}
	unlock, err := f.lock()
	if err != nil {
		return false, fmt.Errorf("ensuring firewall rules: %w", err)
	}
	defer unlock()
	for attempt := 1; ; attempt++ {
		changed, err = f.ensureAllOnce(nets, pubs)
		if err == nil || attempt == 2 || !errors.Is(err, errRestore) {
			break
		}
	}
	if err != nil {
		return false, fmt.Errorf("ensuring firewall rules of %d networks and %d endpoints' ports: %w", len(nets), len(pubs), err)
	}
	return changed, nil
}

// ensureAllOnce reads the ruleset and writes what nets and pubs miss.
func (f *Firewall) ensureAllOnce(nets []firewall.Network, pubs []firewall.Published) (bool, error) {
	s, err := f.snapshot()
	if err != nil {
		return false, err
	}
	p, err := planSkeleton(s)
	if err != nil {
		return false, err
	}
	for _, n := range nets {
		p.ops = append(p.ops, planRules(s, NetworkComment(n.Name), Rules(n))...)
	}
	for _, pb := range pubs {
		p.ops = append(p.ops, planRules(s, portComment(pb.Network.Name, pb.Owner), PortRules(pb.Network.Name, pb.Owner, pb.Ports))...)
	}
	if len(p.ops) == 0 {
		return false, nil
	}
	if err := f.run.restore(p.payload(), true); err != nil {
		return false, fmt.Errorf("%w: %w", errRestore, err)
	}
	return true, nil
}
