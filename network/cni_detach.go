package network

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netns"

	"github.com/plumbnet/plumb/veth"
)

// DetachCNI removes the CNI attachment (containerID, ifname) from network
// netName: a CNI DEL. It needs neither the namespace nor the container: the
// record names the address and the host veth, and the veth's name derives
// from the pair alone. It succeeds when there is nothing (left) to remove,
// so it is safe to repeat. The host veth is taken down at once and deleted
// by the daemon in the background (see reap.go), or here when no daemon
// runs; the address is free when DetachCNI returns.
func (m *Manager) DetachCNI(netName, containerID, ifname string) error {
	n, unlock, err := m.lockExisting(netName)
	if n == nil || err != nil {
		return err
	}
	defer unlock()
	id := CNIEndpointID(containerID, ifname)
	ep, err := m.endpoint(netName, id)
	switch {
	case errors.Is(err, ErrNotAttached):
		// Already removed, or an ADD was killed before its record: only a
		// veth of this pair's name, and host ports the daemon holds for
		// it, can be left.
		return errors.Join(veth.Delete(hostVethName(n, id)), m.releasePorts(&Endpoint{Network: netName, ID: id}))
	case errors.Is(err, errDamaged):
		return m.clearDamaged(n, id)
	case err != nil:
		return err
	}
	return m.cniTeardown(n, ep)
}

// cniTeardown removes the CNI endpoint ep of n: the pair retired and
// handed to the daemon to delete, the names and published ports gone
// (unplug), the address released, and the record removed last, so that an
// interrupted DEL can be repeated. It keeps going past errors and returns
// them joined.
func (m *Manager) cniTeardown(n *Network, ep *Endpoint) error {
	// No namespace: the runtime may have removed it, and its peer goes
	// with the host end anyway.
	errs := m.unplug(ep, netns.None())
	if alloc, err := m.allocator(n); err != nil {
		errs = append(errs, err)
	} else if err := alloc.Release(ep.ID, ep.IP.Addr()); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := m.removeEndpoint(ep.Network, ep.ID); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing CNI attachment %s (%s) from %q: %w", ep.ContainerID, ep.IfName, n.Name, err)
	}
	return nil
}
