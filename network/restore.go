package network

import (
	"errors"
	"sort"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/lockfile"
)

// lockRules locks every network of the state directory, in name order,
// and lists what the firewall must hold for them: the networks, their
// rules, and the ports of every live endpoint. The caller holds the
// global lock, and calls unlock once it has written. Networks whose
// config cannot be read, or removed since the listing, are left out.
func (m *Manager) lockRules() (list []*Network, fnets []firewall.Network, pubs []firewall.Published, unlock func()) {
	all, _ := m.List() // a damaged config is doctor's to report
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	var locks []*lockfile.Lock
	unlock = func() {
		for _, l := range locks {
			l.Unlock()
		}
	}
	for _, n := range all {
		l, err := m.lockNetwork(n.Name)
		if err != nil {
			continue // removed since the listing
		}
		locks = append(locks, l)
		list = append(list, n)
		fnets = append(fnets, n.firewall())
		eps, _ := m.Endpoints(n.Name)
		for _, ep := range eps {
			if len(ep.Ports) > 0 && ep.StaleSince.IsZero() && ep.Alive() {
				pubs = append(pubs, firewall.Published{Network: n.firewall(), Owner: ep.ID, Ports: firewallPorts(ep)})
			}
		}
	}
	return list, fnets, pubs, unlock
}

// RestoreRules makes plumb's whole firewall true to the state directory in
// one write: the localnet guard of every network's bridge, the rules of
// every network and the published ports of every live endpoint
// (Firewall.EnsureAll). It is what
// puts back everything a firewall flush or reload took, at any number of
// networks and endpoints, for the cost of one read and one write. It holds
// the global lock and every network's lock (in name order) while it reads
// the records and writes, so that no create, rm, attach or detach lands in
// between: the ports of an endpoint detached meanwhile never come back.
// Networks whose config cannot be read are left out. It reports what it
// covered and whether it changed anything. Equivalent to: `iptables-restore
// --noflush` of plumb's rules, and `nft add element inet plumb
// localnet_bridges { BR, ... }`.
func (m *Manager) RestoreRules() (RulesRestored, error) {
	var r RulesRestored
	glock, err := m.lockGlobal()
	if err != nil {
		return r, err
	}
	defer glock.Unlock()
	list, fnets, pubs, unlock := m.lockRules()
	defer unlock()
	var errs []error
	if len(fnets) == 0 {
		return r, nil
	}
	r.Networks, r.Endpoints = len(fnets), len(pubs)
	guarded, err := m.ensureGuards(list)
	if err != nil {
		errs = append(errs, err)
	}
	fw, err := m.fw()
	if err != nil {
		return r, errors.Join(append(errs, err)...)
	}
	changed, err := fw.EnsureAll(fnets, pubs)
	if err != nil {
		errs = append(errs, err)
	}
	r.Changed = changed || guarded
	return r, errors.Join(errs...)
}

// RulesRestored is what RestoreRules covered: how many networks and
// endpoints with published ports, and whether anything was missing.
type RulesRestored struct {
	Networks, Endpoints int
	Changed             bool
}

// ensureGuards puts back the localnet guard of each of nets' bridges that
// lacks it (one reading of the guard, a write per bridge missing), and
// reports whether any did. Equivalent to: `nft add element inet plumb
// localnet_bridges { BR }` for each.
func (m *Manager) ensureGuards(nets []*Network) (bool, error) {
	var bridges []string
	for _, n := range nets {
		bridges = append(bridges, n.Bridge)
	}
	have, err := m.guard().CheckLocalnetGuards(bridges)
	var errs []error
	changed := false
	for _, br := range bridges {
		if err == nil && have[br] == nil {
			continue
		}
		changed = true
		if err := m.guard().EnsureLocalnetGuard(br); err != nil {
			errs = append(errs, err)
		}
	}
	return changed, errors.Join(errs...)
}
