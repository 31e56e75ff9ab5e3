package network

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/container"
)

// Detach takes the target spec off network netName, or off every network it
// is on when netName is empty: Docker's `docker network disconnect`. It
// undoes attach in reverse and keeps going past errors, returning them
// together with the endpoints it removed. It works when the container or
// namespace is already gone, and is safe to repeat: a target that is not
// attached yields ErrNotAttached and changes nothing.
func (m *Manager) Detach(ctx context.Context, spec, netName string) ([]*Endpoint, error) {
	if netName != "" {
		if _, err := m.Get(netName); err != nil {
			return nil, err
		}
	}
	t, rerr := m.resolve(ctx, spec)
	if rerr != nil && !errors.Is(rerr, container.ErrNotFound) && !errors.Is(rerr, container.ErrNotRunning) && !errors.Is(rerr, container.ErrDockerUnavailable) {
		return nil, rerr
	}
	eps, err := m.findEndpoints(spec, t, netName)
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
	if netName != "" {
		if _, err := m.Get(netName); err != nil {
			return nil, err
		}
	}
	t, err := m.resolve(ctx, spec)
	if err != nil && !errors.Is(err, container.ErrNotFound) && !errors.Is(err, container.ErrNotRunning) && !errors.Is(err, container.ErrDockerUnavailable) {
		return nil, err
	}
	return m.findEndpoints(spec, t, netName)
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
			if ep, err := m.endpoint(n, t.Key); err == nil {
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
			if (t == nil && recordedAs(ep, spec)) || (t != nil && ep.Target == spec && !alive(ep)) {
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
	cur, err := m.endpoint(ep.Network, ep.ID)
	if errors.Is(err, ErrNotAttached) {
		return nil
	}
	if err == nil {
		ep = cur
	}
	return m.teardown(ep, t)
}

// teardown removes ep: its veth pair is retired at once (both ends down
// and renamed, so the target is cut off and the same target can be
// attached again at once) and the daemon, in one message, forgets its
// names and deletes the pair in the background (reap.go); then its
// published ports, its hosts line (when the target's files are still
// reachable), its address and its record go, in that order. It keeps going
// past errors; each step treats "already gone" as success.
func (m *Manager) teardown(ep *Endpoint, t *container.Target) error {
	ns := peerNS(ep, t)
	errs := m.unplug(ep, ns)
	if ns != netns.None() {
		ns.Close()
	}
	hosts := container.HostsFileOf(container.Kind(ep.Kind), ep.Target, ep.HostsFile)
	resolv := container.ResolvFileOf(container.Kind(ep.Kind), ep.Target, ep.ResolvFile)
	if t != nil && t.Key == ep.ID {
		hosts, resolv = t.HostsFile, t.ResolvFile
	}
	// The file may outlive the target (/etc/netns/NAME, a stopped
	// container's file), so it is cleaned whether or not the target resolved.
	if hosts != nil {
		if err := removeHosts(hosts, hostsTag(ep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if n, err := m.Get(ep.Network); err == nil {
		if alloc, err := m.allocator(n); err == nil {
			if err := alloc.Release(ep.ID, ep.IP.Addr()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		if err := m.removeEndpoint(ep.Network, ep.ID); err != nil {
			errs = append(errs, err)
		} else if resolv != nil {
			if err := m.restoreResolv(resolv, ep.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// unplug is the first half of every teardown, detach's and CNI DEL's: the
// veth pair retired (its peer renamed too when peer is an open handle),
// the daemon told in one message to forget ep's names and delete the pair
// in the background, and ep's published ports removed. It keeps going past
// errors and returns them.
func (m *Manager) unplug(ep *Endpoint, peer netns.NsHandle) []error {
	var errs []error
	r, err := retireVeth(ep.HostVeth, peer, ep.IfName)
	if err != nil {
		errs = append(errs, err)
	}
	if err := m.daemonDownReap(ep, r); err != nil {
		errs = append(errs, err)
	}
	if len(ep.Ports) > 0 {
		if err := m.unpublish(ep.Network, ep.ID, natPorts(ep)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// peerNS opens the namespace that holds ep's peer, when the resolved
// target t is ep's and still has the namespace ep was attached in;
// netns.None() otherwise. The caller closes an open handle.
func peerNS(ep *Endpoint, t *container.Target) netns.NsHandle {
	if t == nil || t.Key != ep.ID || t.NetNSPath == "" {
		return netns.None()
	}
	h, err := netns.GetFromPath(t.NetNSPath)
	if err != nil {
		return netns.None()
	}
	var st unix.Stat_t
	if unix.Fstat(int(h), &st) != nil || st.Ino != ep.NetNSInode {
		h.Close()
		return netns.None()
	}
	return h
}
