package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/ipam"
	"github.com/plumbnet/plumb/veth"
)

// The steps of an attach (attachSteps), each with its undo.

// allocate reserves the endpoint's address of each family its network
// has (and derives its MAC from the first). On error nothing is reserved.
func (a *attachOp) allocate() error {
	if a.n.IPv4() {
		ip, err := a.m.allocate4(a.n, a.ep.ID, a.static)
		if err != nil {
			return fmt.Errorf("network %q: %w", a.n.Name, ipamError(err))
		}
		a.ep.IP = netip.PrefixFrom(ip, a.n.Subnet.Bits())
	}
	if a.n.IPv6() {
		alloc, err := a.m.allocator6(a.n)
		if err == nil {
			var ip netip.Addr
			if ip, err = alloc.Allocate(a.ep.ID, a.static6); err == nil {
				a.ep.IP6 = netip.PrefixFrom(ip, a.n.Subnet6.Bits())
			}
		}
		if err != nil {
			return errors.Join(fmt.Errorf("network %q: %w", a.n.Name, ipamError(err)), a.release())
		}
	}
	if a.ep.MAC == "" {
		a.ep.MAC = veth.MACFromIP(a.ep.Addrs()[0].Addr()).String()
	}
	return nil
}

// release frees what allocate reserved.
func (a *attachOp) release() error {
	var errs []error
	if a.ep.IP.IsValid() {
		alloc, err := a.m.allocator(a.n)
		if err == nil {
			err = alloc.Release(a.ep.ID, a.ep.IP.Addr())
		}
		errs = append(errs, err)
	}
	if a.ep.IP6.IsValid() {
		alloc, err := a.m.allocator6(a.n)
		if err == nil {
			err = alloc.Release(a.ep.ID, a.ep.IP6.Addr())
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// holdPorts has the daemon bind the host ports first: a port that is
// taken fails the attach before anything is built.
func (a *attachOp) holdPorts() error {
	if len(a.o.Publish) == 0 {
		return nil
	}
	reqs, err := portRequests(a.n, a.o.Publish, a.ep.IP6.Addr())
	if err != nil {
		return err
	}
	ports, err := a.m.daemon().Hold(a.n.Name, a.ep.ID, reqs)
	if err != nil {
		return err // "publishing 0.0.0.0:80/tcp: port is already in use"
	}
	a.ep.Ports = ports
	return nil
}

func (a *attachOp) releasePorts() error {
	if len(a.o.Publish) == 0 {
		return nil
	}
	return a.m.daemon().Release(a.n.Name, a.ep.ID)
}

func (a *attachOp) record() error   { return a.m.saveEndpoint(a.ep) }
func (a *attachOp) unrecord() error { return a.m.removeEndpoint(a.n.Name, a.ep.ID) }

// addVeth creates the pair with its peer inside the namespace and the
// host end on the bridge (rebuilt first when it vanished). The undo
// deletes the pair only once it is ours: a name clash never deletes
// someone else's veth (AddVeth cleans up after itself).
func (a *attachOp) addVeth() error {
	brIndex, err := a.m.bridgeIndex(a.n)
	if err != nil {
		return err
	}
	hw, _ := net.ParseMAC(a.ep.MAC)
	err = a.m.links().AddVeth(veth.Pair{
		HostName: a.ep.HostVeth, PeerName: a.ep.IfName, PeerMAC: hw,
		MTU: a.n.MTU, MasterIndex: brIndex,
	}, a.ns)
	if err != nil {
		return linkError(err)
	}
	if !a.n.ICC {
		if err := a.m.links().IsolatePort(a.ep.HostVeth); err != nil {
			a.m.links().DeleteVeth(a.ep.HostVeth)
			return err
		}
	}
	return nil
}

func (a *attachOp) deleteVeth() error { return a.m.links().DeleteVeth(a.ep.HostVeth) }

// configure sets up the peer inside the namespace: address, up, the
// default route via the gateway when it gets one, lo up.
func (a *attachOp) configure() error {
	p := veth.Peer{Name: a.ep.IfName, Addr: a.ep.IP, Addr6: a.ep.IP6}
	if a.ep.DefaultRoute {
		p.Gateway = a.n.Gateway
	}
	if a.ep.DefaultRoute6 {
		p.Gateway6 = a.n.Gateway6
	}
	return a.ns.Configure(p)
}

func (a *attachOp) publish() error {
	if len(a.ep.Ports) == 0 {
		return nil
	}
	return a.m.publish(a.n, a.ep)
}

func (a *attachOp) unpublish() error {
	if len(a.ep.Ports) == 0 {
		return nil
	}
	fw, err := a.m.fw()
	if err != nil {
		return err
	}
	return firewall.DeletePortsOf(fw, a.n.Name, a.ep.ID, firewallPorts(a.ep))
}

// writeHosts writes the target's own names and its --link entries into
// its /etc/hosts, tagged so that detach finds them.
func (a *attachOp) writeHosts() error {
	f := a.t.HostsFile
	if f == nil || len(a.ep.Names())+len(a.linked) == 0 && !a.ep.IP6.IsValid() {
		return nil
	}
	tag := hostsTag(a.ep)
	if err := f.Update(func(old []byte) ([]byte, error) {
		return container.SetHostsEntries(old, tag, hostsEntries(a.ep, a.linked, old)), nil
	}); err != nil {
		return fmt.Errorf("writing %s: %w", f.Path(), err)
	}
	return nil
}

func (a *attachOp) removeHosts() error {
	if a.t.HostsFile == nil {
		return nil
	}
	return container.RemoveHosts(a.t.HostsFile, hostsTag(a.ep))
}

func (a *attachOp) writeResolv() error {
	if a.t.ResolvFile == nil {
		return nil
	}
	return a.m.writeResolv(a.t.ResolvFile, a.t.Key)
}

// restoreResolv puts the file back when the target has no other record.
func (a *attachOp) restoreResolv() error {
	if a.t.ResolvFile == nil {
		return nil
	}
	return a.m.restoreResolv(a.t.ResolvFile, a.t.Key, a.n.Name)
}

// up has the daemon serve the endpoint's names; they resolve when it returns.
func (a *attachOp) up() error {
	if a.m.NoDNS {
		return nil
	}
	return a.m.daemon().Up(a.n.Name, a.ep.ID)
}

func (a *attachOp) down() error {
	if a.m.NoDNS {
		return nil
	}
	return a.m.daemon().Down(a.n.Name, a.ep.ID)
}

// allocator is the file IPAM of network n: its range over its state
// directory's address files.
func (m *Manager) allocator(n *Network) (*ipam.Allocator, error) {
	r, err := n.ipRange()
	if err != nil {
		return nil, err
	}
	if m.dry() {
		// Not NewDiskStore: it makes ips/ when missing.
		store := &ipam.DiskStore{Dir: m.netDir(n.Name)}
		return &ipam.Allocator{Range: r, Store: &scriptStore{DiskStore: store, s: m.DryRun}}, nil
	}
	store, err := ipam.NewDiskStore(m.netDir(n.Name))
	if err != nil {
		return nil, err
	}
	return &ipam.Allocator{Range: r, Store: store}, nil
}

// allocator6 is allocator for n's IPv6 side: its own store under the
// network's directory (v6/), with its own last handed-out address.
func (m *Manager) allocator6(n *Network) (*ipam.Allocator, error) {
	r, err := n.ipRange6()
	if err != nil {
		return nil, err
	}
	dir := m.ipamDir6(n.Name)
	if m.dry() {
		store := &ipam.DiskStore{Dir: dir}
		return &ipam.Allocator{Range: r, Store: &scriptStore{DiskStore: store, s: m.DryRun}}, nil
	}
	store, err := ipam.NewDiskStore(dir)
	if err != nil {
		return nil, err
	}
	return &ipam.Allocator{Range: r, Store: store}, nil
}

// ipamDir6 is where network name keeps its IPv6 reservations:
// v6/ips/<ip>, v6/last_reserved_ip, v6/lock.
func (m *Manager) ipamDir6(name string) string { return ipam.Dir6(m.netDir(name)) }
