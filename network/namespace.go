package network

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/plumbnet/plumb/container"
)

// NamespaceTarget is a target known only by its namespace, as a CNI
// runtime names one: an endpoint id the caller derives (stable for the
// attachment), and the namespace's path.
type NamespaceTarget struct {
	ID          string // the endpoint id
	Spec        string // how ps and detach show it, e.g. "cni:CONTAINERID"
	Kind        string // the Endpoint.Kind, e.g. KindCNI
	NetNS       string // the namespace's path
	ContainerID string
}

// AttachNamespace attaches the namespace of t to network o.Network, taking
// the same steps as Attach; the target has no hosts or resolv.conf file of
// plumb's. o.Check, when set, runs on the network's config under its lock
// first. Attaching a t.ID that is attached already returns its endpoint
// and changes nothing. It returns the network as read under the lock. On
// error nothing of the attach is left behind.
func (m *Manager) AttachNamespace(ctx context.Context, t NamespaceTarget, o AttachOptions) (*Endpoint, *Network, error) {
	if err := ValidateName(o.Network); err != nil {
		return nil, nil, err
	}
	if err := checkNetNS(t.NetNS); err != nil {
		return nil, nil, err
	}
	if o.IfName == "" {
		return nil, nil, fmt.Errorf("interface name: %w: none given", ErrInvalid)
	}
	nlock, err := m.lockNetwork(o.Network)
	if err != nil {
		return nil, nil, err
	}
	defer nlock.Unlock()
	n, err := m.Get(o.Network)
	if err != nil {
		return nil, nil, err
	}
	if o.Check != nil {
		if err := o.Check(n); err != nil {
			return nil, nil, err
		}
	}
	if err := validateAttach(n, &o); err != nil {
		return nil, nil, err
	}
	if err := m.stillRecorded(n, o.Repair); err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(m.endpointPath(n.Name, t.ID)); errors.Is(err, os.ErrNotExist) {
		// No record, yet the veth may be there: a DEL handed it to the
		// daemon to delete and this ADD of the same pair came first, or an
		// ADD was killed. Its name is this attach's: delete it now.
		if err := m.links().DeleteVeth(HostVethName(n, t.ID)); err != nil {
			return nil, nil, err
		}
	}
	ct := &container.Target{Spec: t.Spec, Kind: container.Kind(t.Kind), NetNSPath: t.NetNS, ContainerID: t.ContainerID, Key: t.ID}
	ep, _, err := m.attach(n, ct, t.Spec, o)
	if err != nil {
		return nil, nil, err
	}
	return ep, n, nil
}

// checkNetNS checks that path is a network namespace other than plumb's
// own: attaching the host's namespace to a network would move the host's
// interfaces around. Every error wraps ErrNetNS.
func checkNetNS(path string) error {
	if path == "" {
		return fmt.Errorf("%w: no namespace path given", ErrNetNS)
	}
	key, err := container.NetNSKey(path)
	var pe *os.PathError
	switch {
	case errors.Is(err, container.ErrNotNetNS):
		return fmt.Errorf("netns %q: %w: not a network namespace file", path, ErrNetNS)
	case errors.As(err, &pe):
		return fmt.Errorf("netns %q: %w: %v", path, ErrNetNS, pe.Err)
	case err != nil:
		return fmt.Errorf("netns %q: %w: %v", path, ErrNetNS, err)
	}
	if self, err := container.NetNSKey("/proc/self/ns/net"); err == nil && key == self {
		return fmt.Errorf("netns %q: %w: it is plumb's own namespace", path, ErrNetNS)
	}
	return nil
}

// DetachID removes endpoint id from network netName: a CNI DEL. It needs
// neither the namespace nor the target: the record names the address and
// the host veth, whose name derives from the id alone. It succeeds when
// there is nothing (left) to remove, so it is safe to repeat. The host
// veth is taken down at once and deleted by the daemon in the background
// (or here, when no daemon runs); the address is free when it returns.
func (m *Manager) DetachID(netName, id string) error {
	n, unlock, err := m.lockExisting(netName)
	if n == nil || err != nil {
		return err
	}
	defer unlock()
	ep, err := m.Endpoint(netName, id)
	switch {
	case errors.Is(err, ErrNotAttached):
		// Already removed, or an attach was killed before its record:
		// only a veth of this id's name, and host ports the daemon holds
		// for it, can be left.
		return errors.Join(m.links().DeleteVeth(HostVethName(n, id)), m.daemon().Release(netName, id))
	case errors.Is(err, errDamaged):
		return m.clearDamaged(n, id)
	case err != nil:
		return err
	}
	if err := m.teardown(ep, nil); err != nil {
		return fmt.Errorf("removing endpoint %s (%s) from %q: %w", id, ep.IfName, n.Name, err)
	}
	return nil
}
