package network

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/ipam"
)

// Orphans are the address files of network n that no endpoint owns, by
// address with their owner ("" for a damaged file): files of an owner with
// no record (an attach killed between reserving the address and writing
// its record), and files of an owner whose record names another address
// (the same target attached again after such a kill got a new address,
// and the first one stayed reserved for it). Unreserved are the endpoints
// whose record names an address the allocator has no file for, or a file
// of another owner. It takes the network's lock for the reading: an attach
// in progress is no orphan.
func (m *Manager) Orphans(n *Network) (addrs map[netip.Addr]string, unreserved []*Endpoint, err error) {
	nlock, err := m.lockNetwork(n.Name)
	if err != nil {
		return nil, nil, err
	}
	defer nlock.Unlock()
	fams, err := m.families(n)
	if err != nil {
		return nil, nil, err
	}
	addrs = map[netip.Addr]string{}
	seen := map[string]bool{}
	for _, f := range fams {
		a, u, _, err := m.orphans(n, f)
		if err != nil {
			return nil, nil, err
		}
		for ip, owner := range a {
			addrs[ip] = owner
		}
		for _, ep := range u {
			if !seen[ep.ID] {
				seen[ep.ID] = true
				unreserved = append(unreserved, ep)
			}
		}
	}
	return addrs, unreserved, nil
}

// orphans is Orphans with n's lock held; recorded are the ids with a
// record, damaged ones included.
func (m *Manager) orphans(n *Network, f addrFamily) (addrs map[netip.Addr]string, unreserved []*Endpoint, recorded map[string]bool, err error) {
	owners, err := f.alloc.Owners()
	if err != nil {
		return nil, nil, nil, err
	}
	eps, err := m.Endpoints(n.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	recorded = map[string]bool{}
	for _, id := range m.damagedEndpoints(n.Name) {
		recorded[id] = true
	}
	addrOf := map[string]netip.Addr{}
	for _, ep := range eps {
		recorded[ep.ID] = true
		addrOf[ep.ID] = f.addr(ep)
		if owners[f.addr(ep)] != ep.ID {
			unreserved = append(unreserved, ep)
		}
	}
	addrs = map[netip.Addr]string{}
	for ip, owner := range owners {
		if want, ok := addrOf[owner]; owner == "" || !recorded[owner] || (ok && want != ip) {
			addrs[ip] = owner
		}
	}
	return addrs, unreserved, recorded, nil
}

// ReleaseOrphans frees network n's address files that no endpoint owns
// (Orphans), and the host ports the daemon holds for owners with no
// record, under the network's lock. Equivalent to: `rm networks/NET/ips/IP`
// for each.
func (m *Manager) ReleaseOrphans(n *Network) error {
	nlock, err := m.lockNetwork(n.Name)
	if err != nil {
		return err
	}
	defer nlock.Unlock()
	fams, err := m.families(n)
	if err != nil {
		return err
	}
	var errs []error
	gone := map[string]bool{}
	for _, f := range fams {
		addrs, _, recorded, err := m.orphans(n, f)
		if err != nil {
			return err
		}
		for ip, owner := range addrs {
			// Release frees ip only while owner (or no one readable) holds it.
			errs = append(errs, f.alloc.Release(owner, ip))
			if owner != "" && !recorded[owner] {
				gone[owner] = true
			}
		}
	}
	for id := range gone {
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
	fams, err := m.families(n)
	if err != nil {
		return err
	}
	for _, f := range fams {
		ip := f.addr(ep)
		if !ip.IsValid() {
			continue
		}
		if owners, err := f.alloc.Owners(); err == nil && owners[ip] == ep.ID {
			continue
		}
		if _, err := f.alloc.Allocate(ep.ID, ip); err != nil {
			return fmt.Errorf("endpoint %s of %q: %w", ep.ID, ep.Network, ipamError(err))
		}
	}
	return nil
}

// addrFamily is one address family of a network: its allocator, and which
// of an endpoint's addresses is of that family.
type addrFamily struct {
	alloc *ipam.Allocator
	addr  func(*Endpoint) netip.Addr
}

// families lists n's address families: IPv4, then IPv6, those it has.
func (m *Manager) families(n *Network) ([]addrFamily, error) {
	var out []addrFamily
	if n.IPv4() {
		a, err := m.allocator(n)
		if err != nil {
			return nil, err
		}
		out = append(out, addrFamily{a, func(e *Endpoint) netip.Addr { return e.IP.Addr() }})
	}
	if n.IPv6() {
		a, err := m.allocator6(n)
		if err != nil {
			return nil, err
		}
		out = append(out, addrFamily{a, func(e *Endpoint) netip.Addr { return e.IP6.Addr() }})
	}
	return out, nil
}
