package network

import (
	"errors"
	"sort"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/lockfile"
)

// RestoreRules makes plumb's whole firewall true to the state directory in
// one write: the localnet guard of every network's bridge, the rules of
// every network and the published ports of every live endpoint
// (Firewall.EnsureAll). It is what
// puts back everything a firewall flush or reload took, at any number of
// networks and endpoints, for the cost of one read and one write. It holds
// the global lock and every network's lock (in name order) while it reads
// the records and writes, so that no create, rm, attach or detach lands in
// between: the ports of an endpoint detached meanwhile never come back.
// Networks whose config cannot be read are left out. It reports how many
// networks and endpoints it covered. Equivalent to: `iptables-restore
// --noflush` of plumb's rules, and `nft add element inet plumb
// localnet_bridges { BR, ... }`.
func (m *Manager) RestoreRules() (nets, endpoints int, err error) {
	glock, err := m.lockGlobal()
	if err != nil {
		return 0, 0, err
	}
	defer glock.Unlock()
	list, _ := m.List() // a damaged config is doctor's to report
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	var locks []*lockfile.Lock
	defer func() {
		for _, l := range locks {
			l.Unlock()
		}
	}()
	var fnets []firewall.Network
	var pubs []firewall.Published
	var errs []error
	for _, n := range list {
		l, err := m.lockNetwork(n.Name)
		if err != nil {
			continue // removed since the listing: not ours to restore
		}
		locks = append(locks, l)
		if err := m.guard().EnsureLocalnetGuard(n.Bridge); err != nil {
			errs = append(errs, err)
		}
		fnets = append(fnets, n.firewall())
		eps, _ := m.Endpoints(n.Name)
		for _, ep := range eps {
			if len(ep.Ports) > 0 && ep.StaleSince.IsZero() && ep.Alive() {
				pubs = append(pubs, firewall.Published{Network: n.firewall(), Owner: ep.ID, Ports: firewallPorts(ep)})
			}
		}
	}
	if len(fnets) == 0 {
		return 0, 0, errors.Join(errs...)
	}
	fw, err := m.fw()
	if err != nil {
		return 0, 0, err
	}
	if err := fw.EnsureAll(fnets, pubs); err != nil {
		errs = append(errs, err)
	}
	return len(fnets), len(pubs), errors.Join(errs...)
}
