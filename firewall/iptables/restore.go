package iptables

import (
	"errors"
	"fmt"
	"slices"

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
// again and retries once. It reports whether it wrote anything. The
// ip6tables rules of the networks with IPv6 and of the IPv6 ports are put
// back the same way, with one ip6tables-save and one ip6tables-restore,
// all or nothing with the iptables restore; ip6tables is not run when
// nothing listed has IPv6.
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

// ensureAllOnce reads the ruleset of each family nets and pubs need
// (ip6tables only when one has IPv6) and writes what they miss, all or
// nothing.
func (f *Firewall) ensureAllOnce(nets []firewall.Network, pubs []firewall.Published) (bool, error) {
	var want []Rule
	for _, n := range nets {
		want = append(want, Rules(n)...)
	}
	for _, pb := range pubs {
		want = append(want, PortRulesOn(pb.Network, pb.Owner, pb.Ports)...)
	}
	var ws []write
	for _, v6 := range []bool{false, true} {
		fwant := rulesOfFamily(want, v6)
		if len(fwant) == 0 && (v6 || !needs4(nets)) {
			continue
		}
		s, err := f.snapshotOf(v6)
		if err != nil {
			return false, err
		}
		p, err := planSkeleton(s, fwant)
		if err != nil {
			return false, err
		}
		for _, n := range nets {
			p.ops = append(p.ops, planRules(s, NetworkComment(n.Name), Rules(n))...)
		}
		for _, pb := range pubs {
			p.ops = append(p.ops, planRules(s, portComment(pb.Network.Name, pb.Owner), PortRulesOn(pb.Network, pb.Owner, pb.Ports))...)
		}
		if len(p.ops) > 0 {
			ws = append(ws, write{s, p.ops})
		}
	}
	if len(ws) == 0 {
		return false, nil
	}
	return true, f.commit(ws)
}

// needs4 reports whether EnsureAll reads iptables for nets: always but
// when every network is IPv6-only (then, with no IPv4 port, nothing of
// theirs is in iptables).
func needs4(nets []firewall.Network) bool {
	return len(nets) == 0 || slices.ContainsFunc(nets, func(n firewall.Network) bool { return n.Subnet.IsValid() })
}
