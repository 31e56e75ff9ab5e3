package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/overlay"
	"github.com/plumbnet/plumb/store"
)

// network makes sure this host owns a block of the store network name and
// has materialized it with its current config and blocks. A config already
// materialized by this agent is not done again.
func (a *agent) network(ctx context.Context, name string) error {
	sn := a.w.networks[name]
	blocks := a.w.myBlocks(name)
	if len(blocks) == 0 || a.runningOut(name, blocks) {
		bits := max(a.cfg.BlockBits, sn.Subnet.Bits())
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		b, err := a.cfg.Store.ClaimBlock(cctx, name, a.cfg.Host, sn.Subnet, bits)
		cancel()
		switch {
		case err != nil && len(blocks) == 0:
			return fmt.Errorf("claiming a /%d of %s: %w", bits, sn.Subnet, err)
		case err != nil:
			a.logOnce("block/"+name, fmt.Errorf("its blocks %v are running out and no other is free: %w", blocks, err))
		default:
			a.w.putBlock(name, b, a.cfg.Host)
			blocks = a.w.myBlocks(name)
		}
	}
	n := &network.Network{Name: sn.Name, ID: sn.ID, Subnet: sn.Subnet, Gateway: sn.Gateway, MTU: sn.MTU,
		Internal: sn.Internal, ICC: true, Masquerade: !sn.Internal, VNI: sn.VNI, Blocks: blocks, Created: sn.Created}
	fp := fmt.Sprintf("%+v", *n)
	if a.made[name] == fp {
		return a.keepVXLAN(name)
	}
	if err := a.m.Materialize(n, a.cfg.Underlay); err != nil {
		return err
	}
	a.made[name], a.readd[name] = fp, true
	a.cfg.Log("plumb-cluster: network %s: vni %d, subnet %s, blocks %v, mtu %d", name, n.VNI, n.Subnet, n.Blocks, n.MTU)
	return nil
}

// keepVXLAN mends the VXLAN device of a network made here already, when
// something deleted it or took it off its bridge (the daemon rebuilding a
// vanished bridge makes the bridge only): a device made again has lost its
// FDB and neighbour entries, so every remote is added again.
func (a *agent) keepVXLAN(name string) error {
	idx, err := a.m.EnsureVXLAN(name, a.cfg.Underlay)
	if err != nil {
		return err
	}
	if a.vxIndex[name] != idx {
		a.vxIndex[name], a.readd[name] = idx, true
	}
	return nil
}

// lowWater is how few free addresses left in its blocks make the agent
// claim the next block, ahead of the attaches that would need it: a
// round (200 ms) of attaches at full speed fits in it.
const lowWater = 16

// runningOut reports whether the blocks this host owns of network name,
// as materialized here, have fewer than lowWater free addresses. A network
// not made here yet is not running out.
func (a *agent) runningOut(name string, blocks []netip.Prefix) bool {
	n, err := a.m.Get(name)
	if err != nil || !slices.Equal(n.Blocks, blocks) {
		return false
	}
	free, err := a.m.FreeInBlocks(name)
	return err == nil && free < lowWater
}

// removeGone removes the local overlay networks the store no longer has,
// with their endpoints (`plumb network rm --force NAME`), and forgets
// having made those someone removed here, so that they are made again.
func (a *agent) removeGone(ctx context.Context) {
	local, _ := a.m.List()
	here := map[string]bool{}
	for _, n := range local {
		here[n.Name] = true
	}
	for name := range a.made {
		if !here[name] {
			delete(a.made, name)
			delete(a.programmed, name)
			delete(a.named, name)
		}
	}
	for _, n := range local {
		if _, ok := a.w.networks[n.Name]; ok || !n.Overlay() {
			continue
		}
		if err := a.m.Remove(ctx, n.Name, true); err != nil && !errors.Is(err, network.ErrNotFound) {
			a.logOnce(n.Name+"/remove", err)
			continue
		}
		a.cfg.Log("plumb-cluster: network %s: gone from the store, removed here", n.Name)
		delete(a.made, n.Name)
		delete(a.programmed, n.Name)
		delete(a.readd, n.Name)
		delete(a.named, n.Name)
	}
}

// storeID is the store id of local endpoint id: prefixed with the host,
// so that two hosts' endpoints (whose ids are namespace inodes or
// container ids) never share a key.
func (a *agent) storeID(id string) string { return a.cfg.Host + "." + id }

// publish makes the store's endpoints of this host on net what the state
// directory records: puts the new and changed, deletes the detached. What
// fails is tried again next round.
func (a *agent) publish(ctx context.Context, net string) error {
	eps, err := a.m.Endpoints(net)
	if err != nil {
		return err
	}
	want := map[string]store.Endpoint{}
	for _, ep := range eps {
		if ep.IP.IsValid() {
			id := a.storeID(ep.ID)
			want[id] = store.Endpoint{Network: net, ID: id, Host: a.cfg.Host, IP: ep.IP, MAC: ep.MAC, Names: ep.DNSNames()}
		}
	}
	var errs []error
	for id, e := range want {
		if old, ok := a.w.endpoints[net][id]; ok && sameEndpoint(old, e) {
			continue
		}
		errs = append(errs, a.storeOp(ctx, func(c context.Context) error { return a.cfg.Store.PutEndpoint(c, e) }, func() { a.w.putEndpoint(e) }))
	}
	for id, e := range a.w.endpoints[net] {
		if _, ok := want[id]; ok || e.Host != a.cfg.Host {
			continue
		}
		errs = append(errs, a.storeOp(ctx, func(c context.Context) error { return a.cfg.Store.DeleteEndpoint(c, net, id) },
			func() { delete(a.w.endpoints[net], id) }))
	}
	return errors.Join(errs...)
}

// storeOp runs one store write under opTimeout and, when it succeeded,
// done (which folds it into the world before the watch echoes it).
func (a *agent) storeOp(ctx context.Context, op func(context.Context) error, done func()) error {
	c, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := op(c); err != nil {
		return err
	}
	done()
	return nil
}

func sameEndpoint(x, y store.Endpoint) bool {
	return x.Host == y.Host && x.IP == y.IP && x.MAC == y.MAC && slices.Equal(x.Names, y.Names)
}

// program makes the VXLAN device of net hold exactly the endpoints of the
// other hosts (overlay.AddRemote / DelRemote), those of a host whose lease
// went kept for Grace.
func (a *agent) program(net string, now time.Time) error {
	dev := overlay.VXLANName(net)
	want := map[string]overlay.Remote{}
	for id, e := range a.w.endpoints[net] {
		if e.Host == a.cfg.Host {
			continue
		}
		vtep, ok := a.w.vtep(e.Host, now, a.cfg.Grace)
		mac, err := parseMAC(e.MAC)
		if ok && err == nil {
			want[id] = overlay.Remote{MAC: mac, IP: e.IP.Addr(), VTEP: vtep}
		}
	}
	have := a.programmed[net]
	if have == nil {
		have = map[string]overlay.Remote{}
		a.programmed[net] = have
	}
	var errs []error
	for id, r := range have {
		if w, ok := want[id]; !ok || !sameRemote(w, r) {
			if err := overlay.DelRemote(a.h, dev, r); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(have, id)
		}
	}
	for id, r := range want {
		if _, ok := have[id]; ok && !a.readd[net] {
			continue
		}
		if err := overlay.AddRemote(a.h, dev, r); err != nil {
			errs = append(errs, err)
			continue
		}
		have[id] = r
	}
	if len(errs) == 0 {
		a.readd[net] = false
	}
	return errors.Join(errs...)
}

var parseMAC = net.ParseMAC // the parameter named net hides the package

func sameRemote(x, y overlay.Remote) bool {
	return bytes.Equal(x.MAC, y.MAC) && x.IP == y.IP && x.VTEP == y.VTEP
}
