package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/ipam"
	"github.com/plumbnet/plumb/veth"
)

// validateAttach checks the options that need no state.
func validateAttach(n *Network, o *AttachOptions) error {
	if o.IP.IsValid() && (!o.IP.Is4() || !n.Subnet.Contains(o.IP)) {
		return fmt.Errorf("ip %s: %w: outside subnet %s of network %q", o.IP, ErrInvalid, n.Subnet, n.Name)
	}
	if o.MAC != "" {
		mac, err := net.ParseMAC(o.MAC)
		if err != nil || len(mac) != 6 {
			return fmt.Errorf("mac %q: %w: want six bytes like 02:42:ac:1e:00:02", o.MAC, ErrInvalid)
		}
		if mac[0]&1 == 1 {
			return fmt.Errorf("mac %q: %w: a multicast address cannot be an interface's", o.MAC, ErrInvalid)
		}
		o.MAC = mac.String()
	}
	if o.IfName != "" && (!veth.ValidName(o.IfName) || o.IfName == "lo") {
		return fmt.Errorf("interface name %q: %w: 1-15 characters without '/', ':' or spaces", o.IfName, ErrInvalid)
	}
	for _, a := range o.Aliases {
		if !validDNSName(a) {
			return fmt.Errorf("alias %q: %w: not a valid DNS name", a, ErrInvalid)
		}
	}
	if len(o.Publish) > 0 && n.Internal {
		return fmt.Errorf("network %q is internal: %w: no port can be published on it", n.Name, ErrInvalid)
	}
	return nil
}

// ValidateAttach checks, changing nothing, what Attach checks before it
// resolves its target: o.Network names an existing network and o's options
// suit it (address inside its subnet, MAC, interface name, aliases, no
// ports on an internal network). It normalizes o.MAC as Attach does.
// Errors wrap ErrInvalid or ErrNotFound. Package sandbox calls it before it
// makes a holder container.
func (m *Manager) ValidateAttach(o *AttachOptions) error {
	if err := ValidateName(o.Network); err != nil {
		return err
	}
	n, err := m.Get(o.Network)
	if err != nil {
		return err
	}
	return validateAttach(n, o)
}

// hostVethName is the deterministic host-side name of endpoint id on n:
// "veth" and 11 hex digits, 15 bytes.
func hostVethName(n *Network, id string) string {
	h := sha256.Sum256([]byte(n.ID + "/" + id))
	return "veth" + hex.EncodeToString(h[:])[:11]
}

// Attach puts the target spec on network o.Network, Docker's
// `docker network connect`: an address from the network's IPAM, a veth pair
// with its peer created inside the target's namespace and the host end on
// the bridge, the peer's address, MAC, MTU and routes, and the target's own
// name in its /etc/hosts. Attaching a target that is already attached
// returns its endpoint with already set, and changes nothing. On error,
// nothing of the attach is left behind.
func (m *Manager) Attach(ctx context.Context, spec string, o AttachOptions) (_ *Endpoint, already bool, err error) {
	if err := ValidateName(o.Network); err != nil {
		return nil, false, err
	}
	nlock, err := m.lockNetwork(o.Network)
	if err != nil {
		return nil, false, err
	}
	defer nlock.Unlock()
	// Read under the lock: a network removed meanwhile is not found.
	n, err := m.Get(o.Network)
	if err != nil {
		return nil, false, err
	}
	if err := validateAttach(n, &o); err != nil {
		return nil, false, err
	}
	if err := m.fault("resolve"); err != nil {
		return nil, false, err
	}
	t, err := m.resolve(ctx, spec)
	if err != nil {
		return nil, false, err
	}
	return m.attach(n, t, spec, o)
}

// attach is Attach once the network n is locked and read, o validated and
// the target resolved: the CLI and the CNI plugin share it from here on.
func (m *Manager) attach(n *Network, t *container.Target, spec string, o AttachOptions) (_ *Endpoint, already bool, err error) {
	nsh, err := netns.GetFromPath(t.NetNSPath)
	if err != nil {
		return nil, false, fmt.Errorf("opening network namespace of %q (%s): %w", spec, t.NetNSPath, err)
	}
	defer nsh.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(nsh), &st); err != nil {
		return nil, false, fmt.Errorf("reading network namespace of %q: %w", spec, err)
	}

	static := o.IP
	if prev, perr := m.endpoint(n.Name, t.Key); perr == nil {
		if prev.NetNSInode == st.Ino && veth.Exists(prev.HostVeth) {
			return prev, true, nil
		}
		// The target was attached before and its namespace is gone (a
		// restarted container): clear what is left and give it its address back.
		if derr := m.teardown(prev, t); derr != nil {
			return nil, false, fmt.Errorf("clearing the stale endpoint of %q: %w", spec, derr)
		}
		if !static.IsValid() {
			static = prev.IP.Addr()
		}
		// Its published ports too, as Docker keeps them over a restart.
		if len(o.Publish) == 0 {
			o.Publish = prev.portSpecs()
		}
	} else if errors.Is(perr, errDamaged) {
		if err := m.clearDamaged(n, t.Key); err != nil {
			return nil, false, err
		}
	}

	// NETLINK_ROUTE only: each family costs its own setns round trip.
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, false, fmt.Errorf("opening netlink in the namespace of %q: %w", spec, err)
	}
	defer h.Close()
	inside, err := veth.Inspect(h)
	if err != nil {
		return nil, false, err
	}
	ifname := o.IfName
	if ifname == "" {
		ifname = veth.NextFreeName(inside.Names)
	} else if inside.Names[ifname] {
		return nil, false, fmt.Errorf("interface %q %w in the namespace of %q", ifname, ErrExists, spec)
	}

	var u undo
	defer func() {
		if err != nil {
			if uerr := u.run(); uerr != nil {
				err = fmt.Errorf("%w (rollback: %v)", err, uerr)
			}
		}
	}()

	if err := m.fault("allocate"); err != nil {
		return nil, false, err
	}
	alloc, err := m.allocator(n)
	if err != nil {
		return nil, false, err
	}
	ip, err := alloc.Allocate(t.Key, static)
	if err != nil {
		return nil, false, fmt.Errorf("network %q: %w", n.Name, err)
	}
	u.push(func() error { return alloc.Release(t.Key, ip) })

	mac := o.MAC
	if mac == "" {
		mac = veth.MACFromIP(ip).String()
	}
	hwaddr, _ := net.ParseMAC(mac)
	// ep is a local, not a named result, so the undo closures still see it
	// after a failing return.
	ep := &Endpoint{
		ID: t.Key, Network: n.Name, Target: spec, Kind: string(t.Kind),
		ContainerID: t.ContainerID, ContainerName: t.ContainerName, Hostname: t.Hostname, PID: t.PID,
		NetNS: t.NetNSPath, NetNSInode: st.Ino,
		IP: netip.PrefixFrom(ip, n.Subnet.Bits()), MAC: mac,
		HostVeth: hostVethName(n, t.Key), IfName: ifname,
		DefaultRoute: !inside.DefaultRoute && !n.Internal,
		Aliases:      o.Aliases, Created: time.Now().UTC(),
	}
	if t.HostsFile != nil {
		ep.HostsFile = t.HostsFile.Path()
	}
	if t.ResolvFile != nil {
		ep.ResolvFile = t.ResolvFile.Path()
	}
	linked, err := m.linkEntries(n.Name, o.Links)
	if err != nil {
		return nil, false, err
	}
	ep.Links = o.Links

	if err := m.fault("ports"); err != nil {
		return nil, false, err
	}
	if len(o.Publish) > 0 {
		// The daemon binds the host ports first: a port that is taken
		// fails the attach before anything is built.
		u.push(func() error { return m.releasePorts(ep) })
		if ep.Ports, err = m.holdPorts(ep, o.Publish); err != nil {
			return nil, false, err
		}
	}

	if err := m.fault("record"); err != nil {
		return nil, false, err
	}
	if err := m.saveEndpoint(ep); err != nil {
		return nil, false, err
	}
	u.push(func() error { return m.removeEndpoint(n.Name, ep.ID) })

	if err := m.fault("veth"); err != nil {
		return nil, false, err
	}
	brIndex, err := m.bridgeIndex(n)
	if err != nil {
		return nil, false, err
	}
	// Create cleans up after itself; the undo is pushed only once the pair
	// is ours, so a name clash never deletes someone else's veth.
	if err := veth.Create(veth.Pair{
		HostName: ep.HostVeth, PeerName: ifname, PeerMAC: hwaddr,
		MTU: n.MTU, MasterIndex: brIndex, NetNS: nsh,
	}); err != nil {
		return nil, false, err
	}
	u.push(func() error { return veth.Delete(ep.HostVeth) })
	if !n.ICC {
		if err := bridge.IsolatePort(ep.HostVeth); err != nil {
			return nil, false, err
		}
	}

	if err := m.fault("configure"); err != nil {
		return nil, false, err
	}
	peer := veth.Peer{Name: ifname, Addr: ep.IP}
	if ep.DefaultRoute {
		peer.Gateway = n.Gateway
	}
	if err := veth.Configure(h, peer); err != nil {
		return nil, false, err
	}
	if len(ep.Ports) > 0 {
		if err := m.publish(n, ep, &u); err != nil {
			return nil, false, err
		}
	}

	if err := m.fault("hosts"); err != nil {
		return nil, false, err
	}
	if t.HostsFile != nil && len(ep.Names())+len(linked) > 0 {
		tag := hostsTag(ep)
		var entries []container.HostsEntry
		if len(ep.Names()) > 0 {
			entries = append(entries, container.HostsEntry{IP: ip, Names: ep.Names()})
		}
		entries = append(entries, linked...)
		u.push(func() error { return removeHosts(t.HostsFile, tag) })
		if err := t.HostsFile.Update(func(old []byte) ([]byte, error) {
			return container.SetHostsEntries(old, tag, entries), nil
		}); err != nil {
			return nil, false, fmt.Errorf("writing %s: %w", t.HostsFile.Path(), err)
		}
	}

	if err := m.fault("resolv"); err != nil {
		return nil, false, err
	}
	if t.ResolvFile != nil {
		u.push(func() error {
			// restoreResolv puts the file back only when the target has no
			// record left: drop ours first (the record step's own undo then
			// finds nothing to do).
			if err := m.removeEndpoint(n.Name, ep.ID); err != nil {
				return err
			}
			return m.restoreResolv(t.ResolvFile, t.Key)
		})
		if err := m.writeResolv(t.ResolvFile, t.Key); err != nil {
			return nil, false, err
		}
	}

	if err := m.fault("dns"); err != nil {
		return nil, false, err
	}
	if !m.NoDNS {
		if err := m.daemonUp(ep); err != nil {
			return nil, false, err
		}
		u.push(func() error { return m.daemonDown(ep) })
	}
	return ep, false, nil
}

// linkEntries resolves Docker's legacy --link NAME[:ALIAS] against the
// endpoints of network netName: a hosts entry "IP ALIAS NAME" for each.
func (m *Manager) linkEntries(netName string, links []string) ([]container.HostsEntry, error) {
	if len(links) == 0 {
		return nil, nil
	}
	eps, err := m.Endpoints(netName)
	if err != nil {
		return nil, err
	}
	var out []container.HostsEntry
	for _, l := range links {
		name, alias, _ := strings.Cut(l, ":")
		if !validDNSName(name) || (alias != "" && !validDNSName(alias)) {
			return nil, fmt.Errorf("link %q: %w: want NAME or NAME:ALIAS", l, ErrInvalid)
		}
		var found *Endpoint
		for _, ep := range eps {
			if slices.Contains(dnsNames(ep), name) {
				found = ep
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("link %q: %q is %w to network %q", l, name, ErrNotAttached, netName)
		}
		names := []string{name}
		if alias != "" && alias != name {
			names = []string{alias, name}
		}
		out = append(out, container.HostsEntry{IP: found.IP.Addr(), Names: names})
	}
	return out, nil
}

// clearDamaged removes what a damaged endpoint record stood for, found by
// what is derived from its id alone: its veth and the addresses it owns.
func (m *Manager) clearDamaged(n *Network, id string) error {
	if err := m.unpublish(n.Name, id, nil); err != nil {
		return err
	}
	if err := veth.Delete(hostVethName(n, id)); err != nil {
		return err
	}
	alloc, err := m.allocator(n)
	if err != nil {
		return err
	}
	if err := alloc.ReleaseOwner(id); err != nil {
		return err
	}
	return m.removeEndpoint(n.Name, id)
}

// allocator is the file IPAM of network n: its range over its state
// directory's address files.
func (m *Manager) allocator(n *Network) (*ipam.Allocator, error) {
	r, err := n.ipRange()
	if err != nil {
		return nil, err
	}
	store, err := ipam.NewDiskStore(m.netDir(n.Name))
	if err != nil {
		return nil, err
	}
	return &ipam.Allocator{Range: r, Store: store}, nil
}

// hostsTag marks the /etc/hosts lines that belong to ep.
func hostsTag(ep *Endpoint) string { return ep.Network + "/" + ep.ID }

// removeHosts removes the lines tagged tag from f, then removes f itself
// when plumb made it and it now adds nothing (container.Tidy).
func removeHosts(f container.File, tag string) error {
	err := f.Update(func(old []byte) ([]byte, error) {
		return container.RemoveHostsEntries(old, tag), nil
	})
	if err != nil {
		return err
	}
	return container.Tidy(f)
}

// bridgeIndex returns the index of n's bridge. A bridge that vanished (a
// reboot, or someone ran `ip link del`) is rebuilt, rules included, so that
// attach repairs the network instead of failing. It runs under the
// network's lock; the firewall has its own, so it needs no global lock.
func (m *Manager) bridgeIndex(n *Network) (int, error) {
	idx, err := bridge.Index(n.Bridge)
	if err == nil {
		return idx, nil
	}
	if errors.Is(err, bridge.ErrNotBridge) {
		return 0, err
	}
	if idx, err = bridge.Ensure(n.bridgeConfig()); err != nil {
		return 0, err
	}
	var u undo
	if err := m.ensureFirewall(n, &u); err != nil {
		return 0, err
	}
	return idx, nil
}
