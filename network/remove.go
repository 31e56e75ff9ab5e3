package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/firewall"
)

// Remove deletes network name: its firewall rules, its bridge, then its
// bridge's localnet guard, and its state. It refuses while endpoints
// remain, unless force is set, in which case it detaches them first. A
// network whose config is damaged can be removed with force. When the last
// network goes, what plumb changed on the host (ip_forward) is put back. On success `iptables-save`, `nft list
// ruleset` and `ip -o link` are what they were before the network was
// created.
func (m *Manager) Remove(ctx context.Context, name string, force bool) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	glock, err := m.lockGlobal()
	if err != nil {
		return err
	}
	defer glock.Unlock()

	n, err := m.Get(name)
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		if !force {
			return err
		}
		// Damaged config: the rules are found by the network's name alone,
		// the bridge by the default name.
		n = &Network{Name: name, Bridge: BridgeName(name)}
	}
	nlock, err := m.lockNetwork(name)
	if err != nil {
		return err
	}
	defer nlock.Unlock()
	eps, err := m.Endpoints(name)
	if err != nil && !force {
		return err
	}
	if len(eps) > 0 && !force {
		return fmt.Errorf("network %q is %w: %d endpoint(s) attached; detach them or use --force", name, ErrInUse, len(eps))
	}
	if err := m.unplumb(n, eps); err != nil {
		return err
	}
	if m.dry() {
		return m.dryRemoveState(name)
	}
	if err := os.RemoveAll(m.netDir(name)); err != nil {
		return fmt.Errorf("removing state of %q: %w", name, err)
	}
	if err := m.daemon().Sync(); err != nil {
		return err
	}
	return m.restoreHost()
}

// clearDamaged removes what a damaged endpoint record stood for, found by
// what is derived from its id alone: its veth, its port rules and held
// ports, and the addresses it owns.
func (m *Manager) clearDamaged(n *Network, id string) error {
	if err := m.unpublish(n.Name, id, nil); err != nil {
		return err
	}
	if err := m.links().DeleteVeth(HostVethName(n, id)); err != nil {
		return err
	}
	fams, err := m.families(n)
	if err != nil {
		return err
	}
	for _, f := range fams {
		if err := f.alloc.ReleaseOwner(id); err != nil {
			return err
		}
	}
	return m.removeEndpoint(n.Name, id)
}

// restoreHost puts back what plumb changed on the host once no network is
// left. Called with the global lock held.
func (m *Manager) restoreHost() error {
	names, err := m.networkNames()
	if err != nil || len(names) > 0 {
		return err
	}
	if err := m.removeFirewallRecord(); err != nil {
		return err
	}
	b, err := os.ReadFile(m.hostStatePath())
	if err != nil {
		return nil
	}
	var hs hostState
	// Docker needs ip_forward: plumb never turns it off under docker0.
	if json.Unmarshal(b, &hs) == nil && hs.IPForwardChanged && !m.links().Exists(dockerBridge) {
		if err := firewall.DisableIPForward(); err != nil {
			return err
		}
	}
	if hs.IP6ForwardChanged && !m.links().Exists(dockerBridge) {
		if err := firewall.DisableIP6Forward(); err != nil {
			return err
		}
	}
	if err := os.Remove(m.hostStatePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// dockerBridge is Docker's default bridge: while it exists, Docker needs
// ip_forward on.
const dockerBridge = "docker0"

// unplumb undoes in the kernel what n and its endpoints eps made: every
// endpoint, the records too damaged to list, the firewall rules, the
// bridge and its localnet guard. It goes on past errors and returns them
// all; the state directory is untouched.
func (m *Manager) unplumb(n *Network, eps []*Endpoint) error {
	var errs []error
	for _, ep := range eps {
		if err := m.teardown(ep, nil); err != nil {
			errs = append(errs, fmt.Errorf("detaching %q: %w", ep.Target, err))
		}
	}
	if n.ID != "" {
		// Records too damaged to list still name a veth by their id.
		for _, id := range m.damagedEndpoints(n.Name) {
			if err := m.clearDamaged(n, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !m.dry() {
		errs = append(errs, deleteVXLAN(n))
	}
	if fw, err := m.fw(); err != nil {
		errs = append(errs, err)
	} else if err := fw.DeleteNetwork(n.Name); err != nil {
		errs = append(errs, err)
	}
	// A link of the bridge's name that is not a bridge is someone else's
	// (a damaged or edited config can name any link): it stays, and so
	// does its guard while it has route_localnet on. The guard of plumb's
	// bridge goes only once the bridge, and its route_localnet, is gone.
	switch err := m.links().DeleteBridge(n.Bridge); {
	case errors.Is(err, bridge.ErrNotBridge):
		if err := m.guard().DeleteLocalnetGuard(n.Bridge); err != nil && !errors.Is(err, firewall.ErrLocalnetOn) {
			errs = append(errs, err)
		}
	case err != nil:
		errs = append(errs, err)
	default:
		if err := m.guard().DeleteLocalnetGuard(n.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
