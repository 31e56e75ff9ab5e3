package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/veth"
)

// The reconciler's ears: which links it watches (track), the kernel's link
// and address notifications (watchLinks, changed), the state directory's
// (watchStore) and the firewall's (watchFirewall). Each only kicks a pass.

// track remembers the names of the networks' bridges and of the host
// veths of their live endpoints, which the link notifications are
// filtered by.
func (r *reconciler) track(nets []*network.Network, eps []*network.Endpoint) {
	byName := map[string]*network.Network{}
	bridges, veths := map[string]bool{}, map[string]bool{}
	for _, n := range nets {
		byName[n.Name] = n
		bridges[n.Bridge] = true
	}
	for _, ep := range eps {
		if n := byName[ep.Network]; n != nil && ep.StaleSince.IsZero() {
			veths[network.HostVethName(n, ep.ID)] = true
		}
	}
	r.mu.Lock()
	r.bridges, r.veths = bridges, veths
	r.mu.Unlock()
}

// watchEndpoint adds ep's host veth and its network's bridge to what the
// notifications are filtered by: an endpoint attached since the last pass.
func (r *reconciler) watchEndpoint(n *network.Network, ep *network.Endpoint) {
	r.mu.Lock()
	r.bridges[n.Bridge] = true
	r.veths[network.HostVethName(n, ep.ID)] = true
	r.mu.Unlock()
}

// changed is a link notification: it kicks a pass when it says that one of
// plumb's bridges or host veths went away, went down or was unplugged, or
// that an address was removed. A link plumb's own attach makes, up and on
// its bridge, is no drift; nor is a retired pair (renamed first).
func (r *reconciler) changed(c veth.Change) {
	if c.Addr {
		if c.Gone {
			r.kick()
		}
		return
	}
	r.mu.Lock()
	bridge, veth := r.bridges[c.Name], r.veths[c.Name]
	r.mu.Unlock()
	switch {
	case bridge && (c.Gone || !c.Up):
		r.kick()
	case veth && (c.Gone || !c.Up || c.MasterIndex == 0):
		r.kick()
	}
}

// watchLinks feeds the link and address notifications of the daemon's
// namespace to changed, subscribing again (after a pass, for what it may
// have missed) when a subscription breaks, until ctx ends.
func (r *reconciler) watchLinks(ctx context.Context) {
	for ctx.Err() == nil {
		err := veth.Watch(ctx, r.changed)
		if err == nil || ctx.Err() != nil {
			return
		}
		r.logf("plumb daemon: %v; subscribing again", err)
		r.kick()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// watchStore kicks a pass whenever a network's directory comes or goes
// (network.Manager.WatchStore), so that a create or rm killed half way,
// which the kernel does not tell of, is made whole at once rather than at
// the next full pass; it subscribes again when the watch breaks, until
// ctx ends.
func (r *reconciler) watchStore(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.m.WatchStore(ctx, r.kick)
		if err == nil || ctx.Err() != nil {
			return
		}
		r.logf("plumb daemon: %v; watching again", err)
		r.kick()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// watchFirewall kicks a pass whenever the firewall's rules change, where
// the backend tells (network.Manager.WatchFirewall), subscribing again
// when a subscription breaks, until ctx ends. Where the backend cannot
// tell, the full pass comes every `poll` instead: the firewall is polled.
func (r *reconciler) watchFirewall(ctx context.Context, poll time.Duration) {
	for ctx.Err() == nil {
		err := r.m.WatchFirewall(ctx, r.kick)
		switch {
		case err == nil || ctx.Err() != nil:
			return
		case errors.Is(err, errors.ErrUnsupported):
			r.logf("plumb daemon: the firewall tells no change (%v): checking it every %s", err, poll)
			r.every.Store(int64(poll))
			r.kick()
			return
		}
		r.logf("plumb daemon: watching the firewall: %v; subscribing again", err)
		r.kick()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
