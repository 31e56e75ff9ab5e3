package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/veth"
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
	if err := m.links().CheckBridge(n.bridgeConfig()); err != nil {
		return linkError(err)
	}
	if err := m.guard().CheckLocalnetGuard(n.Bridge); err != nil {
		return fmt.Errorf("the guard of route_localnet on %s: %w", n.Bridge, err)
	}
	fw, err := m.fw()
	if err != nil {
		return err
	}
	return fw.CheckNetwork(n.firewall())
}

// RestoreNetwork makes network name's kernel side whole again: its state
// directories, its bridge with its address and sysctls, its firewall rules
// and ip_forward, as create made them; a running daemon serves its gateway
// again. It is safe to repeat. A link of the bridge's name that is not a
// bridge is left alone (ErrExists). Equivalent to what `plumb network
// create` does, for an existing config.
func (m *Manager) RestoreNetwork(name string) error {
	glock, err := m.lockGlobal()
	if err != nil {
		return err
	}
	defer glock.Unlock()
	n, err := m.Get(name)
	if err != nil {
		return err
	}
	if err := m.ensureStateDirs(n.Name); err != nil {
		return err
	}
	// The guard first: EnsureBridge turns route_localnet on.
	if err := m.guard().EnsureLocalnetGuard(n.Bridge); err != nil {
		return err
	}
	if _, err := m.links().EnsureBridge(n.bridgeConfig()); err != nil {
		return linkError(err)
	}
	if err := m.ensureFirewall(n); err != nil {
		return err
	}
	return m.daemon().Sync()
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
// aliases and links).
func (m *Manager) Repair(ctx context.Context, ep *Endpoint) error {
	o := AttachOptions{Network: ep.Network, IP: ep.IP.Addr(), MAC: ep.MAC, IfName: ep.IfName,
		Aliases: ep.Aliases, Links: ep.Links, Publish: ep.portSpecs()}
	if ep.Kind == KindCNI {
		_, _, err := m.AttachNamespace(ctx, NamespaceTarget{ID: ep.ID, Spec: ep.Target, Kind: ep.Kind,
			NetNS: ep.NetNS, ContainerID: ep.ContainerID}, o)
		return err
	}
	_, _, err := m.Attach(ctx, ep.Target, o)
	return err
}

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

// StrayLinks lists the host's links plumb made and no record owns: veths
// named like plumb's host ends (HostVethName) that no endpoint of any
// network has, and retired pairs (veth.RetiredPrefix) the daemon did not
// delete. Equivalent to: `ip -o link` and reading it.
func (m *Manager) StrayLinks() ([]string, error) {
	host, err := m.links().HostLinks()
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	names, _ := m.networkNames()
	for _, name := range names {
		n, err := m.Get(name)
		eps, _ := m.Endpoints(name)
		for _, ep := range eps {
			owned[ep.HostVeth] = true
			if err == nil {
				owned[HostVethName(n, ep.ID)] = true
			}
		}
		for _, id := range m.damagedEndpoints(name) {
			if err == nil {
				owned[HostVethName(n, id)] = true
			}
		}
	}
	var out []string
	for name, l := range host {
		if !l.Veth || owned[name] {
			continue
		}
		if isHostVethName(name) || name == veth.RetiredName(l.Index) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DeleteLinks deletes the veths named (`ip link del NAME`), each only if
// it is still a veth; gone is success.
func (m *Manager) DeleteLinks(names []string) error {
	var errs []error
	for _, name := range names {
		errs = append(errs, m.links().DeleteVeth(name))
	}
	return errors.Join(errs...)
}

// StrayPortRules lists, by network, the owners of published-port rules
// that no endpoint record has: rules a killed detach or attach left.
func (m *Manager) StrayPortRules() (map[string][]string, error) {
	fw, err := m.fw()
	if err != nil {
		return nil, err
	}
	c, err := fw.Snapshot()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for netName, owners := range c.PortOwners() {
		eps, _ := m.Endpoints(netName)
		for _, owner := range owners {
			if !slices.ContainsFunc(eps, func(ep *Endpoint) bool { return ep.ID == owner && len(ep.Ports) > 0 }) {
				out[netName] = append(out[netName], owner)
			}
		}
	}
	return out, nil
}

// DeletePortRules removes the published-port rules of owner on netName.
func (m *Manager) DeletePortRules(netName, owner string) error {
	fw, err := m.fw()
	if err != nil {
		return err
	}
	return fw.DeletePorts(netName, owner)
}

// TargetFileLeftovers lists, for the netns targets plumb writes files for
// (/etc/netns/NAME), the hosts tags (NET/ID) no endpoint record has any
// more, by netns name: lines a killed detach left.
func (m *Manager) TargetFileLeftovers() (map[string][]string, error) {
	names, err := container.NetnsNames()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, ns := range names {
		f := container.HostsFileOf(container.KindNetNS, "netns:"+ns, "")
		tags, err := container.HostsTags(f)
		if err != nil {
			continue
		}
		for _, tag := range tags {
			netName, id, ok := cutTag(tag)
			if !ok {
				continue
			}
			if _, err := m.Endpoint(netName, id); errors.Is(err, ErrNotAttached) {
				out[ns] = append(out[ns], tag)
			}
		}
	}
	return out, nil
}

// RemoveTargetHosts removes the hosts lines tagged tag from the hosts
// file of netns target ns.
func (m *Manager) RemoveTargetHosts(ns, tag string) error {
	return container.RemoveHosts(container.HostsFileOf(container.KindNetNS, "netns:"+ns, ""), tag)
}

// cutTag splits a hosts tag NET/ID.
func cutTag(tag string) (netName, id string, ok bool) {
	for i := 0; i < len(tag); i++ {
		if tag[i] == '/' {
			return tag[:i], tag[i+1:], tag[:i] != "" && tag[i+1:] != ""
		}
	}
	return "", "", false
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

// RestoreTargetResolv puts back the resolv.conf of netns target ns that
// plumb pointed at 127.0.0.11 when no endpoint of it is left: its saved
// original when there is one, else none (the file plumb made goes).
func (m *Manager) RestoreTargetResolv(ns string) error {
	f := container.ResolvFileOf(container.KindNetNS, "netns:"+ns, "")
	if f == nil {
		return nil
	}
	return f.Remove()
}

// PointedTargets lists the netns targets (/etc/netns/NAME) whose
// resolv.conf plumb wrote while no endpoint record names them: a killed
// detach's leftovers.
func (m *Manager) PointedTargets() ([]string, error) {
	names, err := container.NetnsNames()
	if err != nil {
		return nil, err
	}
	all, err := m.AllEndpoints("")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range names {
		f := container.ResolvFileOf(container.KindNetNS, "netns:"+ns, "")
		if f == nil {
			continue
		}
		if ok, _ := container.Pointed(f); !ok {
			continue
		}
		if !slices.ContainsFunc(all, func(ep *Endpoint) bool { return ep.Target == "netns:"+ns }) {
			out = append(out, ns)
		}
	}
	return out, nil
}
