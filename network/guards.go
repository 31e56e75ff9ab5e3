package network

import "fmt"

// StrayGuards lists the bridges the localnet guard holds that no network
// of this state directory has: elements left in `inet plumb`'s set by an
// interrupted rollback or a state directory removed by hand. It reads the
// guard before the networks, so that a create running meanwhile (which
// writes its state before its guard) is never taken for a leftover. It
// changes nothing. Equivalent to comparing `nft list set inet plumb
// localnet_bridges` with the networks' bridges.
func (m *Manager) StrayGuards() ([]string, error) {
	guarded, err := m.guard().GuardedBridges()
	if err != nil {
		return nil, err
	}
	ours, err := m.bridges()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, br := range guarded {
		if !ours[br] {
			out = append(out, br)
		}
	}
	return out, nil
}

// DeleteStrayGuard removes the guard of bridge br if, under the global
// lock that network create holds, still no network has br. The guard
// refuses (firewall.ErrLocalnetOn) while an interface br has route_localnet
// on. Equivalent to: `nft delete element inet plumb localnet_bridges {
// "BR" }`.
func (m *Manager) DeleteStrayGuard(br string) error {
	glock, err := m.lockGlobal()
	if err != nil {
		return err
	}
	defer glock.Unlock()
	ours, err := m.bridges()
	if err != nil {
		return err
	}
	if ours[br] {
		return nil
	}
	if err := m.guard().DeleteLocalnetGuard(br); err != nil {
		return fmt.Errorf("deleting the stray localnet guard of %q: %w", br, err)
	}
	return nil
}

// bridges is the set of the networks' bridges, and of the default bridge
// names of networks whose config cannot be read.
func (m *Manager) bridges() (map[string]bool, error) {
	names, err := m.networkNames()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, name := range names {
		n, err := m.Get(name)
		if err != nil {
			out[BridgeName(name)] = true
			continue
		}
		out[n.Bridge] = true
	}
	return out, nil
}
