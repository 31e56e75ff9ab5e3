package network

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/firewall"
)

// What `plumb doctor` asks of the model: each function compares one part
// of the state directory (the desired state) with the kernel (the actual
// state), changes nothing, and has a repair beside it that is safe to
// repeat. Package doctor words the findings for a person; the daemon's
// reconciler repairs the same drift by itself.

// NetworkNames lists the networks' directories, damaged configs included.
func (m *Manager) NetworkNames() ([]string, error) { return m.networkNames() }

// CheckNetwork reports the first thing wrong with network n's kernel
// side: its bridge (missing, down, without its address, or a link of its
// name that is not a bridge), the guard of its route_localnet, and its
// firewall rules. Nil when whole.
func (m *Manager) CheckNetwork(n *Network) error {
	return m.CheckNetworks([]*Network{n})[n.Name]
}

// CheckNetworks is CheckNetwork for each of nets, reading the firewall and
// the guard once for all: the error of each network that is not whole.
func (m *Manager) CheckNetworks(nets []*Network) map[string]error {
	out := map[string]error{}
	c, err := m.snapshot()
	rules := m.checkRules(nets, c, err)
	for _, n := range nets {
		if err := m.links().CheckBridge(n.bridgeConfig()); err != nil {
			out[n.Name] = linkError(err)
		} else if err := rules[n.Name]; err != nil {
			out[n.Name] = err
		}
	}
	return out
}

// snapshot reads the firewall's rules once (Firewall.Snapshot).
func (m *Manager) snapshot() (firewall.Checker, error) {
	fw, err := m.fw()
	if err != nil {
		return nil, err
	}
	return fw.Snapshot()
}

// checkRules checks the guard and the firewall rules of nets, the rules
// against c (one reading, whose error is err), the guard from one reading.
func (m *Manager) checkRules(nets []*Network, c firewall.Checker, err error) map[string]error {
	out := map[string]error{}
	var bridges []string
	for _, n := range nets {
		bridges = append(bridges, n.Bridge)
	}
	guards, gerr := m.guard().CheckLocalnetGuards(bridges)
	for _, n := range nets {
		switch {
		case gerr != nil:
			out[n.Name] = fmt.Errorf("the guard of route_localnet on %s: %w", n.Bridge, gerr)
		case guards[n.Bridge] != nil:
			out[n.Name] = fmt.Errorf("the guard of route_localnet on %s: %w", n.Bridge, guards[n.Bridge])
		case err != nil:
			out[n.Name] = err
		default:
			out[n.Name] = c.CheckNetwork(n.firewall())
		}
	}
	return out
}

// RestoreNetwork makes network name's kernel side whole again: its state
// directories, its bridge with its address and sysctls, its firewall rules
// and ip_forward, as create made them; a running daemon serves its gateway
// again. It is safe to repeat. A link of the bridge's name that is not a
// bridge is left alone (ErrExists). Equivalent to what `plumb network
// create` does, for an existing config.
func (m *Manager) RestoreNetwork(name string) error {
	_, err := m.restoreNetwork(name, false)
	return err
}

// RepairNetwork is RestoreNetwork for the daemon's reconciler: under the
// global lock it checks the network again first, and changes nothing,
// reporting false, when it is whole (a create that was under way when the
// reconciler looked has finished since).
func (m *Manager) RepairNetwork(name string) (bool, error) { return m.restoreNetwork(name, true) }

func (m *Manager) restoreNetwork(name string, onlyBroken bool) (bool, error) {
	glock, err := m.lockGlobal()
	if err != nil {
		return false, err
	}
	defer glock.Unlock()
	n, err := m.Get(name)
	if err != nil {
		return false, err
	}
	if onlyBroken && m.CheckNetwork(n) == nil {
		return false, nil
	}
	if err := m.ensureStateDirs(n.Name); err != nil {
		return false, err
	}
	// The guard first: EnsureBridge turns route_localnet on.
	if err := m.guard().EnsureLocalnetGuard(n.Bridge); err != nil {
		return false, err
	}
	if _, err := m.links().EnsureBridge(n.bridgeConfig()); err != nil {
		return false, linkError(err)
	}
	if err := m.ensureFirewall(n); err != nil {
		return false, err
	}
	return true, m.daemon().Sync()
}

// ensureStateDirs makes the network's endpoints directory a directory
// again: a file in its place (a careless hand, a broken disk) made every
// command fail.
func (m *Manager) ensureStateDirs(name string) error {
	dir := m.endpointsDir(name)
	if st, err := os.Lstat(dir); err == nil && !st.IsDir() {
		if err := os.Remove(dir); err != nil {
			return fmt.Errorf("removing %s, which is not a directory: %w", dir, err)
		}
	}
	return os.MkdirAll(dir, 0o755)
}

// Repair makes endpoint ep whole again in the namespace it lives in: as
// attaching its target again does (Attach verifies, tears down what is
// left of a half-built endpoint and attaches it with its address, ports,
// aliases and links). Its interface keeps its name unless another
// endpoint of the namespace took the name while this one's pair was gone:
// then it gets the next free one, as an attach without --ifname does. An
// endpoint detached meanwhile stays detached: nil.
func (m *Manager) Repair(ctx context.Context, ep *Endpoint) error {
	_, err := m.RepairEndpoint(ctx, ep)
	return err
}

// RepairEndpoint is Repair, reporting whether it changed anything: an
// endpoint found whole under the network's lock (repaired meanwhile, or
// never broken but read while it was being attached) is left as it is.
func (m *Manager) RepairEndpoint(ctx context.Context, ep *Endpoint) (bool, error) {
	o := AttachOptions{Network: ep.Network, IP: ep.IP.Addr(), IP6: ep.IP6.Addr(), MAC: ep.MAC, IfName: ep.IfName,
		Aliases: ep.Aliases, Links: ep.Links, Publish: ep.portSpecs(), Repair: ep.ID}
	var already bool
	var err error
	if ep.Kind == KindCNI {
		_, _, err = m.AttachNamespace(ctx, NamespaceTarget{ID: ep.ID, Spec: ep.Target, Kind: ep.Kind,
			NetNS: ep.NetNS, ContainerID: ep.ContainerID}, o)
	} else {
		_, already, err = m.Attach(ctx, ep.Target, o)
	}
	if errors.Is(err, ErrNotAttached) {
		return false, nil
	}
	return !already && err == nil, err
}

// StartDaemon starts the daemon if it is not running, and has it serve
// what the state directory says.
func (m *Manager) StartDaemon() error {
	if err := m.daemon().Start(); err != nil {
		return err
	}
	return m.daemon().Sync()
}

// Served is what the daemon serves now: the namespaces with a 127.0.0.11
// listener, the endpoints there without their default route, and the
// endpoints whose host ports it holds. ErrDaemonNotRunning when none runs.
func (m *Manager) Served() (control.Listening, error) { return m.daemon().Listeners() }

// firewallWatcher is a firewall that tells when its rules change
// (firewall.Watcher).
type firewallWatcher interface {
	Watch(ctx context.Context, changed func()) error
}

// WatchFirewall calls changed after each change of the host's rules, by
// anyone, until ctx ends (then nil); the daemon's reconciler checks plumb's
// rules then. It returns an error matching errors.ErrUnsupported at once
// when the firewall backend cannot tell (iptables-legacy): poll instead.
// Equivalent to: `nft monitor`.
func (m *Manager) WatchFirewall(ctx context.Context, changed func()) error {
	fw, err := m.fw()
	if err != nil {
		return err
	}
	w, ok := fw.(firewallWatcher)
	if !ok {
		return fmt.Errorf("the %s firewall: %w", fw.Backend(), errors.ErrUnsupported)
	}
	return w.Watch(ctx, changed)
}
