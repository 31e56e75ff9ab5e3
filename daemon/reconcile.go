package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/veth"
)

// The reconciler converges the kernel to the state directory: the state
// dir is the desired state, the kernel the actual one, and the comparison
// is the one `plumb doctor` prints (network.CheckNetworks, Health). It
// repairs only what plumb owns (a name plumb used that now belongs to
// something else is reported, never deleted), logs each repair in one
// line, and backs off from a subject that drifts again as fast as it is
// repaired. Drift is learnt from netlink notifications (plumb's bridges
// and host veths deleted, set down or unplugged, addresses removed), from
// the firewall's notifications where the backend gives them, from Docker's
// container starts, and from a periodic full pass, the safety net and the
// poll of a firewall that gives no notification.

// Timings of the reconciler.
const (
	// settle is how long the reconciler waits for a burst of
	// notifications to end before it looks, at most settleMax.
	settle    = 20 * time.Millisecond
	settleMax = 200 * time.Millisecond
)

// model is what the reconciler asks of network.Manager: the comparison
// of the state directory with the kernel, and the repairs beside it.
type model interface {
	List() ([]*network.Network, error)
	CheckNetworks(nets []*network.Network) map[string]error
	RestoreNetwork(name string) error
	EndpointsHealth(netName string) ([]*network.Endpoint, []network.Health, error)
	Repair(ctx context.Context, ep *network.Endpoint) error
	RestorePorts(ep *network.Endpoint) error
	MarkStale(ep *network.Endpoint, now time.Time) (bool, error)
	ExpireStale(ctx context.Context, ep *network.Endpoint, grace time.Duration, now time.Time) (bool, error)
	WatchFirewall(ctx context.Context, changed func()) error
}

// reconciler is the daemon's part that keeps the kernel true to the state
// directory. One goroutine (run) owns it; kick and watch are safe from any.
type reconciler struct {
	m      model         // the daemon's Manager, whose Daemon is this daemon, in-process
	resync func()        // has the daemon serve what the state directory says
	grace  time.Duration // how long a stale endpoint keeps its address
	every  atomic.Int64  // the period of the full pass, a time.Duration
	logf   func(string, ...any)
	now    func() time.Time

	// sweep deletes the retired pairs left in the daemon's namespace, and
	// returns once they are gone (the reaper's sweep, waited for); nil:
	// none is deleted. See sweepOnce.
	sweep func()
	swept bool // this pass swept

	wake  chan struct{} // a pass is wanted; buffered, 1
	tries *backoff

	expiry time.Time // when the earliest stale endpoint's grace ends; zero: none

	mu      sync.Mutex
	bridges map[string]bool // the bridges of the networks, by name
	veths   map[string]bool // the host veths of live endpoints, by name
}

func newReconciler(m model, resync func(), grace, every time.Duration, logf func(string, ...any)) *reconciler {
	r := &reconciler{m: m, resync: resync, grace: grace, logf: logf, now: time.Now,
		wake: make(chan struct{}, 1), tries: newBackoff(),
		bridges: map[string]bool{}, veths: map[string]bool{}}
	r.every.Store(int64(every))
	return r
}

// kick asks for a pass; many kicks before it starts make one.
func (r *reconciler) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run makes a first pass at once (the boot restore: every network and
// every endpoint whose namespace still exists made whole again), then one
// per kick, per r.every, and when a backed-off repair or a stale
// endpoint's grace period is due, until ctx ends.
func (r *reconciler) run(ctx context.Context) {
	r.pass(ctx)
	t := time.NewTimer(r.untilNext())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			r.settle(ctx)
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		r.pass(ctx)
		t.Reset(r.untilNext())
	}
}

// settle waits until no kick came for `settle`, at most settleMax: a
// firewall reload or a container stop is a burst of notifications, and
// one pass after it is enough.
func (r *reconciler) settle(ctx context.Context) {
	limit := time.NewTimer(settleMax)
	defer limit.Stop()
	for {
		quiet := time.NewTimer(settle)
		select {
		case <-ctx.Done():
			quiet.Stop()
			return
		case <-limit.C:
			quiet.Stop()
			return
		case <-quiet.C:
			return
		case <-r.wake:
			quiet.Stop()
		}
	}
}

// untilNext is how long until the next pass is due with no kick.
func (r *reconciler) untilNext() time.Duration {
	now := r.now()
	d := time.Duration(r.every.Load())
	if t := r.tries.next(now); !t.IsZero() && t.Sub(now) < d {
		d = t.Sub(now)
	}
	if t := r.expiry; !t.IsZero() && t.Sub(now) < d {
		d = t.Sub(now)
	}
	return max(d, settle)
}

// pass compares the state directory with the kernel and repairs what
// drifted: the networks first (bridges, addresses, rules), then each
// endpoint on a whole network.
func (r *reconciler) pass(ctx context.Context) {
	nets, _ := r.m.List()
	broken := r.m.CheckNetworks(nets)
	for _, n := range nets {
		subject := "network " + n.Name
		if err := broken[n.Name]; err != nil {
			r.repair(subject, err.Error(), "bridge, address and rules restored", func() error { return r.m.RestoreNetwork(n.Name) })
		} else if line := r.tries.whole(subject, r.now()); line != "" {
			r.logf("plumb daemon: %s", line)
		}
	}
	eps, hs, err := r.m.EndpointsHealth("")
	if err != nil {
		r.logf("plumb daemon: reading the endpoints: %v", err)
	}
	names := false
	for i, ep := range eps {
		names = r.endpoint(ctx, ep, hs[i]) || names
	}
	if names {
		r.resync()
	}
	r.swept = false
	r.track(nets, eps)
	r.expiry = r.nextExpiry(eps)
}

// endpoint repairs ep by what its health says is wrong, and reports
// whether only its names are missing (the daemon's own to serve again).
func (r *reconciler) endpoint(ctx context.Context, ep *network.Endpoint, h network.Health) bool {
	subject := fmt.Sprintf("endpoint %s on %s", ep.Target, ep.Network)
	switch {
	case h.State == network.StateStale:
		r.stale(ctx, ep)
	case h.State == network.StateUp:
		if line := r.tries.whole(subject, r.now()); line != "" {
			r.logf("plumb daemon: %s", line)
		}
	case h.DaemonSilent, h.Damage&network.DamageNetwork != 0:
		// Its network's repair comes first; the next pass sees the rest.
	case h.Damage&network.DamageLinks != 0 || h.State == network.StateDown:
		r.repair(subject, h.State+": "+h.Reason, "attached again with its address, MAC, names and ports",
			func() error { r.sweepOnce(); return r.m.Repair(ctx, ep) })
	case h.Damage&network.DamagePorts != 0:
		r.repair(subject, h.Reason, "published ports restored", func() error { return r.m.RestorePorts(ep) })
	case h.Damage&network.DamageNames != 0:
		return true
	}
	return false
}

// sweepOnce deletes the retired pairs, once a pass, before the first
// endpoint it attaches again: a detach cut short after it retired the
// endpoint's pair (the record kept, so that it may be repeated) left that
// pair, which still holds the endpoint's address in the target, and
// nothing else deletes it until the daemon starts again. Deleted first,
// the address is never held twice.
func (r *reconciler) sweepOnce() {
	if r.sweep != nil && !r.swept {
		r.sweep()
	}
	r.swept = true
}

// repair runs fix for subject, whose drift is what, unless subject is
// backed off; it logs one line: what drifted, what was done (or why not).
func (r *reconciler) repair(subject, what, done string, fix func() error) {
	now := r.now()
	if !r.tries.allow(subject, now) {
		return
	}
	err := fix()
	if errors.Is(err, network.ErrNotFound) || errors.Is(err, network.ErrNotAttached) {
		return // removed meanwhile (a network rm, a detach): nothing to repair
	}
	line := r.tries.repaired(subject, now)
	switch {
	case errors.Is(err, network.ErrExists):
		r.logf("plumb daemon: %s: %s: not repaired: %v (plumb never touches what is not its own)", subject, what, err)
	case err != nil:
		r.logf("plumb daemon: %s: %s: repair failed: %v", subject, what, err)
	case !r.tries.looping(subject):
		r.logf("plumb daemon: repaired %s (%s): %s", subject, what, done)
	}
	if line != "" {
		r.logf("plumb daemon: %s", line)
	}
}

// stale takes ep, whose namespace is gone, out of service, and detaches
// it once its grace period is over.
func (r *reconciler) stale(ctx context.Context, ep *network.Endpoint) {
	subject := fmt.Sprintf("endpoint %s on %s", ep.Target, ep.Network)
	now := r.now()
	if ep.StaleSince.IsZero() {
		marked, err := r.m.MarkStale(ep, now)
		switch {
		case err != nil:
			r.logf("plumb daemon: %s: namespace gone: %v", subject, err)
		case marked:
			r.logf("plumb daemon: %s: namespace gone: published ports let go, address %s kept for %s", subject, ep.IP.Addr(), r.grace)
		}
		return
	}
	expired, err := r.m.ExpireStale(ctx, ep, r.grace, now)
	switch {
	case err != nil:
		r.logf("plumb daemon: %s: stale since %s: detaching: %v", subject, ep.StaleSince.Format(time.RFC3339), err)
	case expired:
		r.logf("plumb daemon: %s: stale for %s: detached, address %s freed", subject, r.grace, ep.IP.Addr())
	}
}

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

// nextExpiry is when the earliest grace period of eps' stale endpoints
// ends; zero when none is stale.
func (r *reconciler) nextExpiry(eps []*network.Endpoint) time.Time {
	var t time.Time
	for _, ep := range eps {
		if ep.StaleSince.IsZero() {
			continue
		}
		if end := ep.StaleSince.Add(r.grace); t.IsZero() || end.Before(t) {
			t = end
		}
	}
	return t
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
