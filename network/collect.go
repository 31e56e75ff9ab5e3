package network

import (
	"errors"
	"fmt"
	"strings"
)

// Collect is a garbage collection of network netName (a CNI GC): it tears
// down every endpoint whose id ours reports true and keep reports false,
// and frees what interrupted operations leaked among those ids: addresses
// owned by an id that has no record, the host ports the daemon holds for
// it, and ports of the bridge named like plumb's host veths that no record
// owns. Endpoints that are not ours, and the network itself, are kept. A
// network that does not exist has nothing to collect.
func (m *Manager) Collect(netName string, ours, keep func(id string) bool) error {
	n, unlock, err := m.lockExisting(netName)
	if n == nil || err != nil {
		return err
	}
	defer unlock()
	eps, err := m.Endpoints(netName)
	if err != nil {
		return err
	}
	var errs []error
	recorded := map[string]bool{} // ids with a record, after the GC
	owned := map[string]bool{}    // host veths accounted for: of the records left, or just retired
	for _, ep := range eps {
		owned[ep.HostVeth] = true
		if ours(ep.ID) && !keep(ep.ID) {
			if err := m.teardown(ep, nil); err != nil {
				errs = append(errs, fmt.Errorf("removing endpoint %s (%s): %w", ep.ID, ep.IfName, err))
			}
			continue
		}
		recorded[ep.ID] = true
	}
	for _, id := range m.damagedEndpoints(netName) {
		if ours(id) && !keep(id) {
			if err := m.clearDamaged(n, id); err != nil {
				errs = append(errs, err)
			}
		} else {
			recorded[id] = true
			owned[HostVethName(n, id)] = true
		}
	}
	orphans := map[string]bool{}
	fams, err := m.families(n)
	for _, f := range fams {
		if err := f.alloc.ReleaseIf(func(owner string) bool {
			o := ours(owner) && !keep(owner) && !recorded[owner]
			orphans[owner] = orphans[owner] || o
			return o
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if err != nil {
		errs = append(errs, err)
	}
	for id := range orphans {
		if err := m.daemon().Release(netName, id); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.deleteStrayPorts(n, owned); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gc of network %q: %w", netName, err)
	}
	return nil
}

// deleteStrayPorts deletes the veths on n's bridge that are named like
// plumb's host veths and are not in owned: the veth of an endpoint whose
// record is gone, when the daemon that was to delete it did not. A bridge
// that is missing has no ports to clean.
func (m *Manager) deleteStrayPorts(n *Network, owned map[string]bool) error {
	ports, err := m.links().BridgePorts(n.Bridge)
	if err != nil {
		return nil
	}
	var errs []error
	for _, name := range ports {
		if owned[name] || !isHostVethName(name) {
			continue
		}
		if err := m.links().DeleteVeth(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isHostVethName reports whether name has the form HostVethName gives.
func isHostVethName(name string) bool {
	rest, ok := strings.CutPrefix(name, "veth")
	if !ok || len(rest) != 11 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
