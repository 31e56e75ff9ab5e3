package network

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/veth"
)

// Detach takes the target spec off network netName, or off every network it
// is on when netName is empty: Docker's `docker network disconnect`. It
// undoes attach in reverse (detachSteps) and keeps going past errors,
// returning them together with the endpoints it removed. It works when the
// container or namespace is already gone, and is safe to repeat: a target
// that is not attached yields ErrNotAttached and changes nothing.
func (m *Manager) Detach(ctx context.Context, spec, netName string) ([]*Endpoint, error) {
	eps, t, err := m.endpointsOf(ctx, spec, netName)
	if err != nil {
		return nil, err
	}
	if len(eps) == 0 {
		where := "any network"
		if netName != "" {
			where = fmt.Sprintf("network %q", netName)
		}
		return nil, fmt.Errorf("%q is %w to %s", spec, ErrNotAttached, where)
	}
	var errs []error
	var done []*Endpoint
	for _, ep := range eps {
		if err := m.teardownLocked(ep, t); err != nil {
			errs = append(errs, fmt.Errorf("detaching %q from %q: %w", spec, ep.Network, err))
			continue
		}
		done = append(done, ep)
	}
	return done, errors.Join(errs...)
}

// EndpointsOf returns the endpoints of the target spec on every network,
// or on netName: what `plumb port` and `plumb detach` look at. A target
// that is gone is found by its recorded spec, name or id prefix.
func (m *Manager) EndpointsOf(ctx context.Context, spec, netName string) ([]*Endpoint, error) {
	eps, _, err := m.endpointsOf(ctx, spec, netName)
	return eps, err
}

func (m *Manager) endpointsOf(ctx context.Context, spec, netName string) ([]*Endpoint, *container.Target, error) {
	if netName != "" {
		if _, err := m.Get(netName); err != nil {
			return nil, nil, err
		}
	}
	t, err := m.targets().Resolve(ctx, spec)
	if err != nil && !errors.Is(err, container.ErrNotFound) && !errors.Is(err, container.ErrNotRunning) && !errors.Is(err, container.ErrDockerUnavailable) {
		return nil, nil, err
	}
	eps, err := m.findEndpoints(spec, t, netName)
	return eps, t, err
}

// findEndpoints returns the endpoints of the target. A resolved target is
// found by its stable id, one stat per network. Only when that finds
// nothing are the records read: to match a target that is gone by its
// recorded spec, container name or id prefix, or a spec that now names a
// new namespace (after `ip netns del x; ip netns add x`) by the stale
// record of the old one.
func (m *Manager) findEndpoints(spec string, t *container.Target, netName string) ([]*Endpoint, error) {
	nets := []string{netName}
	if netName == "" {
		var err error
		if nets, err = m.networkNames(); err != nil {
			return nil, err
		}
	}
	var out []*Endpoint
	if t != nil {
		for _, n := range nets {
			if ep, err := m.Endpoint(n, t.Key); err == nil {
				out = append(out, ep)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	for _, n := range nets {
		eps, err := m.Endpoints(n)
		if err != nil {
			return nil, err
		}
		for _, ep := range eps {
			if (t == nil && recordedAs(ep, spec)) || (t != nil && ep.Target == spec && !ep.Alive()) {
				out = append(out, ep)
			}
		}
	}
	return out, nil
}

// recordedAs reports whether ep was attached as spec, by the spec itself,
// the container name or a container id prefix of at least 4 characters.
func recordedAs(ep *Endpoint, spec string) bool {
	if ep.Target == spec || (ep.ContainerName != "" && ep.ContainerName == strings.TrimPrefix(spec, "/")) {
		return true
	}
	return len(spec) >= 4 && ep.ContainerID != "" && strings.HasPrefix(ep.ContainerID, spec)
}

// teardownLocked is teardown under the network's lock, re-reading the
// record there: a concurrent detach may have removed it already.
func (m *Manager) teardownLocked(ep *Endpoint, t *container.Target) error {
	nlock, err := m.lockNetwork(ep.Network)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer nlock.Unlock()
	cur, err := m.Endpoint(ep.Network, ep.ID)
	if errors.Is(err, ErrNotAttached) {
		return nil
	}
	if err == nil {
		ep = cur
	}
	return m.teardown(ep, t)
}

// detachOp is one teardown in progress.
type detachOp struct {
	m       *Manager
	ep      *Endpoint
	veth    string    // the host veth, by name: derived, never the record's word alone
	ns      Namespace // the peer's namespace, when at hand
	hosts   container.File
	resolv  container.File
	retired *veth.Retired
}

// detachSteps are the steps of a teardown, in order: the veth pair is
// retired at once (both ends down and renamed, so the target is cut off
// and can be attached again at once), the daemon forgets its names and
// deletes the pair in the background, then its published ports, its hosts
// line, its address go. Each treats "already gone" as success, and the
// teardown keeps going past errors; finishSteps (resolv.conf put back,
// then the record) run only when these all succeeded, and the record goes
// last, so that an interrupted detach can be repeated.
var detachSteps = []step[*detachOp]{
	{name: "retire", do: (*detachOp).retire},
	{name: "names", do: (*detachOp).down},
	{name: "reap", do: (*detachOp).reap},
	{name: "unpublish", do: (*detachOp).unpublish},
	{name: "unhosts", do: (*detachOp).unhosts},
	{name: "release", do: (*detachOp).release},
}

var finishSteps = []step[*detachOp]{
	{name: "unresolv", do: (*detachOp).unresolv},
	{name: "unrecord", do: (*detachOp).unrecord},
}

// teardown removes ep (detachSteps, then finishSteps). t is the target
// as resolved now, nil when it is gone; its files are used when it is
// ep's, else the recorded ones: a file may outlive its target
// (/etc/netns/NAME, a stopped container's file), so it is cleaned whether
// or not the target resolved.
func (m *Manager) teardown(ep *Endpoint, t *container.Target) error {
	d := &detachOp{m: m, ep: ep, veth: m.hostVethOf(ep), ns: m.peerNS(ep, t),
		hosts:  container.HostsFileOf(container.Kind(ep.Kind), ep.Target, ep.HostsFile),
		resolv: container.ResolvFileOf(container.Kind(ep.Kind), ep.Target, ep.ResolvFile)}
	if d.ns != nil {
		defer d.ns.Close()
	}
	if t != nil && t.Key == ep.ID {
		d.hosts, d.resolv = t.HostsFile, t.ResolvFile
	}
	d.hosts, d.resolv = m.scriptFile(d.hosts), m.scriptFile(d.resolv)
	if err := runAll(m.fault, detachSteps, d); err != nil {
		return err
	}
	return runSteps(m.fault, finishSteps, d)
}

// hostVethOf is the name of ep's host veth: derived from the network's id
// and ep's (HostVethName), so that a record naming another link never has
// plumb delete it. When the network's config is unreadable the record's
// name is used only if it has the form plumb gives; "" otherwise.
func (m *Manager) hostVethOf(ep *Endpoint) string {
	if n, err := m.Get(ep.Network); err == nil {
		return HostVethName(n, ep.ID)
	}
	if isHostVethName(ep.HostVeth) {
		return ep.HostVeth
	}
	return ""
}

// peerNS opens the namespace that holds ep's peer, when the resolved
// target t is ep's and still has the namespace ep was attached in; nil
// otherwise.
func (m *Manager) peerNS(ep *Endpoint, t *container.Target) Namespace {
	if t == nil || t.Key != ep.ID || t.NetNSPath == "" {
		return nil
	}
	ns, err := m.links().OpenNS(t.NetNSPath)
	if err != nil {
		return nil
	}
	if !ep.SameNS(ns) {
		ns.Close()
		return nil
	}
	return ns
}

// retire takes the pair out of service. When the host end cannot be
// retired, the pair is deleted here and now instead; when only the peer's
// step failed, deleting the retired host end still removes both ends.
func (d *detachOp) retire() error {
	if d.veth == "" {
		return nil
	}
	r, err := d.m.links().RetireVeth(d.veth, d.ns, d.ep.IfName)
	if r != nil {
		d.retired = r
		return nil
	}
	if err != nil {
		if derr := d.m.links().DeleteVeth(d.veth); derr != nil {
			return errors.Join(err, derr)
		}
	}
	return nil
}

// down has the daemon forget the endpoint: its names stop resolving now.
func (d *detachOp) down() error { return d.m.daemon().Down(d.ep.Network, d.ep.ID) }

// reap hands the retired pair to the daemon to delete in the background;
// when no daemon runs, or it runs in another namespace, the pair is
// deleted here and now.
func (d *detachOp) reap() error {
	if d.retired == nil {
		return nil
	}
	r := d.retired
	if d.m.daemon().Reap(control.Reap{Name: r.Name, Index: r.Index, NetNS: control.SelfNetNS()}) == nil {
		return nil
	}
	return d.m.links().DeleteRetired(*r)
}

func (d *detachOp) unpublish() error {
	if len(d.ep.Ports) == 0 {
		return nil
	}
	return d.m.unpublish(d.ep.Network, d.ep.ID, firewallPorts(d.ep))
}

func (d *detachOp) unhosts() error {
	if d.hosts == nil {
		return nil
	}
	if err := container.RemoveHosts(d.hosts, hostsTag(d.ep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if sf, ok := d.hosts.(*scriptFile); ok {
		return sf.tidy() // container.Tidy knows only its own files
	}
	return nil
}

// release frees the address, if the network is still there to own it.
func (d *detachOp) release() error {
	n, err := d.m.Get(d.ep.Network)
	if err != nil {
		return nil
	}
	fams, err := d.m.families(n)
	if err != nil {
		return nil
	}
	var errs []error
	for _, f := range fams {
		if ip := f.addr(d.ep); ip.IsValid() {
			errs = append(errs, f.alloc.Release(d.ep.ID, ip))
		}
	}
	return errors.Join(errs...)
}

func (d *detachOp) unrecord() error { return d.m.removeEndpoint(d.ep.Network, d.ep.ID) }

func (d *detachOp) unresolv() error {
	if d.resolv == nil {
		return nil
	}
	return d.m.restoreResolv(d.resolv, d.ep.ID, d.ep.Network)
}
