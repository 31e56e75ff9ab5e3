package network

import (
	"errors"
	"fmt"
	"net/netip"
)

// Orphans are the address files of network n that no endpoint owns (an
// attach killed between reserving the address and writing its record), by
// address with their owner ("" for a damaged file), and the endpoints whose
// record names an address the allocator has no file for, or a file of
// another owner. It takes the network's lock for the reading: an attach in
// progress is no orphan.
func (m *Manager) Orphans(n *Network) (addrs map[netip.Addr]string, unreserved []*Endpoint, err error) {
	nlock, err := m.lockNetwork(n.Name)
	if err != nil {
		return nil, nil, err
	}
	defer nlock.Unlock()
	alloc, err := m.allocator(n)
	if err != nil {
		return nil, nil, err
	}
	owners, err := alloc.Owners()
	if err != nil {
		return nil, nil, err
	}
	eps, err := m.Endpoints(n.Name)
	if err != nil {
		return nil, nil, err
	}
	recorded := map[string]bool{}
	for _, id := range m.damagedEndpoints(n.Name) {
		recorded[id] = true
	}
	for _, ep := range eps {
		recorded[ep.ID] = true
		if owners[ep.IP.Addr()] != ep.ID {
			unreserved = append(unreserved, ep)
		}
	}
	addrs = map[netip.Addr]string{}
	for ip, owner := range owners {
		if owner == "" || !recorded[owner] {
			addrs[ip] = owner
		}
	}
	return addrs, unreserved, nil
}

// ReleaseOrphans frees network n's address files that no endpoint owns,
// and the host ports the daemon holds for their owners, under the
// network's lock.
func (m *Manager) ReleaseOrphans(n *Network) error {
	nlock, err := m.lockNetwork(n.Name)
	if err != nil {
		return err
	}
	defer nlock.Unlock()
	alloc, err := m.allocator(n)
	if err != nil {
		return err
	}
	recorded := map[string]bool{}
	eps, _ := m.Endpoints(n.Name)
	for _, ep := range eps {
		recorded[ep.ID] = true
	}
	for _, id := range m.damagedEndpoints(n.Name) {
		recorded[id] = true
	}
	var freed []string
	if err := alloc.ReleaseIf(func(owner string) bool {
		orphan := owner == "" || !recorded[owner]
		if orphan && owner != "" {
			freed = append(freed, owner)
		}
		return orphan
	}); err != nil {
		return err
	}
	var errs []error
	for _, id := range freed {
		errs = append(errs, m.daemon().Release(n.Name, id))
	}
	return errors.Join(errs...)
}

// Reserve gives endpoint ep back the address its record names, when the
// allocator has no file for it. An address another endpoint holds is
// refused (ErrInUse): two endpoints share it, and one must be detached.
func (m *Manager) Reserve(ep *Endpoint) error {
	nlock, err := m.lockNetwork(ep.Network)
	if err != nil {
		return err
	}
	defer nlock.Unlock()
	n, err := m.Get(ep.Network)
	if err != nil {
		return err
	}
	alloc, err := m.allocator(n)
	if err != nil {
		return err
	}
	if owners, err := alloc.Owners(); err == nil && owners[ep.IP.Addr()] == ep.ID {
		return nil
	}
	if _, err := alloc.Allocate(ep.ID, ep.IP.Addr()); err != nil {
		return fmt.Errorf("endpoint %s of %q: %w", ep.ID, ep.Network, ipamError(err))
	}
	return nil
}
