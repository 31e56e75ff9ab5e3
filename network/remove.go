package network

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/plumbnet/plumb/bridge"
)

// Remove deletes network name: its firewall rules, its bridge and its
// state. It refuses while endpoints remain, unless force is set, in which
// case it detaches them first. A network whose config is damaged can be
// removed with force. When the last network goes, what plumb changed on the
// host (ip_forward) is put back. On success `iptables-save` and
// `ip -o link` are what they were before the network was created.
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
		// Damaged config: fall back to what a default network of this name
		// would have used, and clear the state.
		n = nil
	}
	nlock, err := m.lockNetwork(name)
	if err != nil {
		return err
	}
	defer nlock.Unlock()
	eps, err := m.Endpoints(name)
	if err != nil {
		return err
	}
	if len(eps) > 0 && !force {
		return fmt.Errorf("network %q is %w: %d endpoint(s) attached; detach them or use --force", name, ErrInUse, len(eps))
	}
	var errs []error
	for _, ep := range eps {
		if err := m.teardown(ep, nil); err != nil {
			errs = append(errs, fmt.Errorf("detaching %q: %w", ep.Target, err))
		}
	}
	if n != nil {
		// Records too damaged to list still name a veth by their id.
		for _, id := range m.damagedEndpoints(name) {
			if err := m.clearDamaged(n, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if n != nil {
		fw, err := newFirewall()
		if err != nil {
			errs = append(errs, err)
		} else if err := fw.DeleteNetwork(n.Name); err != nil {
			errs = append(errs, err)
		}
		if err := bridge.Delete(n.Bridge); err != nil {
			errs = append(errs, err)
		}
	} else {
		// Damaged config: the rules are found by the network's name alone,
		// the bridge by the default name.
		if fw, err := newFirewall(); err != nil {
			errs = append(errs, err)
		} else if err := fw.DeleteNetwork(name); err != nil {
			errs = append(errs, err)
		}
		if err := bridge.Delete(BridgeName(name)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(m.netDir(name)); err != nil {
		return fmt.Errorf("removing state of %q: %w", name, err)
	}
	if err := m.daemonSync(); err != nil {
		return err
	}
	return m.restoreHost()
}

// dockerRunning reports whether Docker's bridge exists: Docker needs
// ip_forward, so plumb must not turn it off under it.
func dockerRunning() bool { return bridge.Exists("docker0") }
