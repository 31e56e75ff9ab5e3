package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/veth"
)

// validateAttach checks the options that need no state.
func validateAttach(n *Network, o *AttachOptions) error {
	if o.IP.IsValid() && !n.IPv4() {
		return fmt.Errorf("ip %s: %w: network %q has no IPv4", o.IP, ErrInvalid, n.Name)
	}
	if o.IP.IsValid() && (!o.IP.Is4() || !n.Subnet.Contains(o.IP)) {
		return fmt.Errorf("ip %s: %w: outside subnet %s of network %q", o.IP, ErrInvalid, n.Subnet, n.Name)
	}
	if o.IP6.IsValid() && !n.IPv6() {
		return fmt.Errorf("ip6 %s: %w: network %q has no IPv6", o.IP6, ErrInvalid, n.Name)
	}
	if o.IP6.IsValid() && (!o.IP6.Is6() || o.IP6.Is4In6() || o.IP6.Zone() != "" || !n.Subnet6.Contains(o.IP6)) {
		return fmt.Errorf("ip6 %s: %w: outside subnet %s of network %q", o.IP6, ErrInvalid, n.Subnet6, n.Name)
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
	if len(o.Publish) > 0 {
		if _, err := portRequests(n, o.Publish, netip.Addr{}); err != nil {
			return err
		}
	}
	return nil
}

// ValidateAttach checks o against network o.Network without changing
// anything: what a sandbox checks before it makes its holder container.
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

// HostVethName is the deterministic host-side name of endpoint id on n:
// "veth" and 11 hex digits, 15 bytes. A CNI DEL finds the veth of an
// attachment with no other state.
func HostVethName(n *Network, id string) string {
	h := sha256.Sum256([]byte(n.ID + "/" + id))
	return "veth" + hex.EncodeToString(h[:])[:11]
}

// Attach puts the target spec on network o.Network, Docker's
// `docker network connect`: an address from the network's IPAM, a veth pair
// with its peer created inside the target's namespace and the host end on
// the bridge, the peer's address, MAC, MTU and routes, its published
// ports, the target's own name in its /etc/hosts, its resolv.conf pointed
// at 127.0.0.11, and its names in the daemon (attachSteps). Attaching a
// target that is already attached returns its endpoint with already set,
// and changes nothing. On error, nothing of the attach is left behind.
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
	if err := m.stillRecorded(n, o.Repair); err != nil {
		return nil, false, err
	}
	if err := m.fault("resolve"); err != nil {
		return nil, false, err
	}
	t, err := m.targets().Resolve(ctx, spec)
	if err != nil {
		return nil, false, err
	}
	if o.Repair != "" && t.Key != o.Repair {
		// The spec names another target now (a namespace made again under
		// the same name): the endpoint to repair is stale, not broken.
		return nil, false, fmt.Errorf("endpoint %s: %q is another target now: %w", o.Repair, spec, ErrNotAttached)
	}
	return m.attach(n, t, spec, o)
}

// stillRecorded is nil unless repair names an endpoint n has no record of
// (ErrNotAttached): a detach went first.
func (m *Manager) stillRecorded(n *Network, repair string) error {
	if repair == "" {
		return nil
	}
	if _, err := m.Endpoint(n.Name, repair); errors.Is(err, ErrNotAttached) {
		return fmt.Errorf("endpoint %s %w to %q any more", repair, ErrNotAttached, n.Name)
	}
	return nil
}

// attachOp is one attach in progress: what its steps read and build.
type attachOp struct {
	m      *Manager
	n      *Network
	t      *container.Target
	o      AttachOptions
	ns     Namespace
	ep     *Endpoint
	static netip.Addr // the IPv4 address asked for, or given back to a restarted target
	// static6 is static for IPv6 (--ip6).
	static6 netip.Addr
	linked  []container.HostsEntry
}

// attachSteps are the steps of an attach, in order, each with its undo.
var attachSteps = []step[*attachOp]{
	{"allocate", (*attachOp).allocate, (*attachOp).release},
	{"ports", (*attachOp).holdPorts, (*attachOp).releasePorts},
	{"record", (*attachOp).record, (*attachOp).unrecord},
	{"veth", (*attachOp).addVeth, (*attachOp).deleteVeth},
	{"configure", (*attachOp).configure, nil}, // the peer's settings go with it
	{"publish", (*attachOp).publish, (*attachOp).unpublish},
	{"hosts", (*attachOp).writeHosts, (*attachOp).removeHosts},
	{"resolv", (*attachOp).writeResolv, (*attachOp).restoreResolv},
	{"dns", (*attachOp).up, (*attachOp).down},
}

// attach is Attach once the network n is locked and read, o validated and
// the target resolved: the CLI and the CNI plugin share it from here on.
func (m *Manager) attach(n *Network, t *container.Target, spec string, o AttachOptions) (*Endpoint, bool, error) {
	ns, err := m.links().OpenNS(t.NetNSPath)
	if err != nil {
		return nil, false, fmt.Errorf("opening network namespace of %q (%s): %w", spec, t.NetNSPath, err)
	}
	defer ns.Close()
	a := &attachOp{m: m, n: n, t: t, o: o, ns: ns, static: o.IP, static6: o.IP6}
	if prev, err := a.previous(); prev != nil || err != nil {
		return prev, prev != nil, err
	}
	if err := a.prepare(spec); err != nil {
		return nil, false, err
	}
	if err := runSteps(m.fault, attachSteps, a); err != nil {
		return nil, false, err
	}
	return a.ep, false, nil
}

// previous handles an earlier record of the target: it returns that
// endpoint when the target is attached already, in this very namespace,
// and whole (verified: a record alone proves nothing, an attach may have
// been killed half way). Otherwise (the namespace is gone: a restarted
// container; or the endpoint is not whole) it clears what is left and has
// this attach make it again with its address, published ports, aliases
// and links, as Docker keeps them over a restart. A damaged record is
// cleared.
func (a *attachOp) previous() (*Endpoint, error) {
	prev, err := a.m.Endpoint(a.n.Name, a.t.Key)
	if errors.Is(err, errDamaged) {
		return nil, a.m.clearDamaged(a.n, a.t.Key)
	}
	if err != nil {
		return nil, nil
	}
	if prev.SameNS(a.ns) && a.m.links().Exists(prev.HostVeth) && a.m.whole(a.n, prev, a.t) == nil {
		return prev, nil
	}
	if err := a.m.teardown(prev, a.t); err != nil {
		return nil, fmt.Errorf("clearing the earlier endpoint of %q: %w", a.t.Spec, err)
	}
	if !a.static.IsValid() {
		a.static = prev.IP.Addr()
	}
	if !a.static6.IsValid() {
		a.static6 = prev.IP6.Addr()
	}
	if len(a.o.Publish) == 0 {
		a.o.Publish = prev.portSpecs()
	}
	if len(a.o.Aliases) == 0 {
		a.o.Aliases = prev.Aliases
	}
	if len(a.o.Links) == 0 {
		a.o.Links = prev.Links
	}
	return nil, nil
}

// whole reports the first thing endpoint ep of n lacks, nil when nothing:
// what Verify checks (bridge, veth, rules, the peer's interface, address
// and routes), its hosts lines and resolv.conf in the files of t, and its
// names served in its namespace.
func (m *Manager) whole(n *Network, ep *Endpoint, t *container.Target) error {
	if err := m.Verify(n.Name, ep.ID, t.NetNSPath, Expect{}); err != nil {
		return err
	}
	if t.HostsFile != nil && len(ep.Names())+len(ep.Links) > 0 {
		if ok, err := container.HasHosts(t.HostsFile, hostsTag(ep)); err != nil || !ok {
			return fmt.Errorf("its lines in %s are missing", t.HostsFile.Path())
		}
	}
	if t.ResolvFile != nil {
		if ok, err := container.Pointed(t.ResolvFile); err != nil || !ok {
			return fmt.Errorf("%s does not point at 127.0.0.11", t.ResolvFile.Path())
		}
	}
	if !m.NoDNS && ep.Kind != KindCNI {
		if l, _ := m.daemon().Listeners(); !l.Namespaces[ep.NamespaceKey()] {
			return errors.New("its names are not served in its namespace")
		}
	}
	return nil
}

// prepare reads the namespace and builds the endpoint the steps make:
// the interface name, whether it gets the default route, its names.
func (a *attachOp) prepare(spec string) error {
	inside, err := a.ns.Inspect()
	if err != nil {
		return err
	}
	cookie, err := a.ns.Cookie()
	if err != nil {
		return err
	}
	ifname := a.o.IfName
	switch {
	case ifname == "" || inside.Names[ifname] && a.o.Repair != "":
		// A repair whose interface name another endpoint of the namespace
		// took while its pair was gone gets the next free one, as an
		// attach without --ifname does, in this very attach: under the
		// lock, so that no detach can come between.
		ifname = veth.NextFreeName(inside.Names)
	case inside.Names[ifname]:
		return fmt.Errorf("interface %q %w in the namespace of %q", ifname, ErrExists, spec)
	}
	t := a.t
	a.ep = &Endpoint{
		ID: t.Key, Network: a.n.Name, Target: spec, Kind: string(t.Kind),
		ContainerID: t.ContainerID, ContainerName: t.ContainerName, Hostname: t.Hostname, PID: t.PID,
		NetNS: t.NetNSPath, NetNSInode: a.ns.Inode(), NetNSCookie: cookie, MAC: a.o.MAC,
		HostVeth: HostVethName(a.n, t.Key), IfName: ifname,
		DefaultRoute:  !inside.DefaultRoute && !a.n.Internal && a.n.Gateway.IsValid(),
		DefaultRoute6: !inside.DefaultRoute6 && !a.n.Internal && a.n.Gateway6.IsValid(),
		Aliases:       a.o.Aliases, Links: a.o.Links, Created: time.Now().UTC(),
	}
	if t.HostsFile != nil {
		a.ep.HostsFile = t.HostsFile.Path()
	}
	if t.ResolvFile != nil {
		a.ep.ResolvFile = t.ResolvFile.Path()
	}
	a.linked, err = a.m.linkEntries(a.n.Name, a.o.Links)
	return err
}
