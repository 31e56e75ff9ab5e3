package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plumbnet/plumb/network"
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
	// A firewall reload of four iptables commands is ~11 ms between
	// commits here: 50 ms sees it as one drift, repaired once.
	settle    = 50 * time.Millisecond
	settleMax = 250 * time.Millisecond
)

// model is what the reconciler asks of network.Manager: the comparison
// of the state directory with the kernel, and the repairs beside it.
type model interface {
	List() ([]*network.Network, error)
	CheckNetworks(nets []*network.Network) map[string]error
	RepairNetwork(name string) (bool, error)
	EndpointsHealth(netName string) ([]*network.Endpoint, []network.Health, error)
	RepairEndpoint(ctx context.Context, ep *network.Endpoint) (bool, error)
	RestoreRules() (network.RulesRestored, error)
	MarkStale(ep *network.Endpoint, now time.Time) (bool, error)
	ExpireStale(ctx context.Context, ep *network.Endpoint, grace time.Duration, now time.Time) (bool, error)
	WatchFirewall(ctx context.Context, changed func()) error
	WatchStore(ctx context.Context, changed func()) error
	StrayHolds(held map[string]bool) ([]network.StrayHold, error)
	ReleaseStrayHold(s network.StrayHold) error
}

// parts are the daemon's parts the reconciler works with.
type parts struct {
	resync func()                 // has the daemon serve what the state directory says
	sweep  func()                 // deletes the retired veth pairs left, before a repair
	held   func() map[string]bool // the endpoints whose host ports are held
	// syncDue reports, and forgets, whether a repair asked the daemon to
	// serve the state directory again (local.Sync): once per pass.
	syncDue func() bool
	// ours reports whether the daemon's run directory is still its own
	// (lockfile.Lock.Current): a daemon whose run directory was replaced
	// repairs nothing, whatever the state directory says now.
	ours func() bool
}

// reconciler is the daemon's part that keeps the kernel true to the state
// directory. One goroutine (run) owns it; kick and watch are safe from any.
type reconciler struct {
	m model // the daemon's Manager, whose Daemon is this daemon, in-process
	parts
	grace time.Duration // how long a stale endpoint keeps its address
	every atomic.Int64  // the period of the full pass, a time.Duration
	logf  func(string, ...any)
	now   func() time.Time

	wake  chan struct{} // a pass is wanted; buffered, 1
	tries *backoff

	expiry time.Time                  // when the earliest stale endpoint's grace ends; zero: none
	acted  bool                       // the pass under way repaired something
	strays map[network.StrayHold]bool // held ports with no record, at the last pass

	mu      sync.Mutex
	bridges map[string]bool // the bridges of the networks, by name
	veths   map[string]bool // the host veths of live endpoints, by name
}

func newReconciler(m model, p parts, grace, every time.Duration, logf func(string, ...any)) *reconciler {
	r := &reconciler{m: m, parts: p, grace: grace, logf: logf, now: time.Now,
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
// drifted: the firewall first, all of it in one write, then the bridges,
// then each endpoint on a whole network. A pass that repaired anything
// asks for another, which checks the repairs and sees what they revealed.
func (r *reconciler) pass(ctx context.Context) {
	r.acted = false
	if !r.ours() {
		return
	}
	nets, _ := r.m.List()
	broken := r.m.CheckNetworks(nets)
	if len(broken) > 0 {
		r.sweep()
		r.restoreRules(networkNames(broken), 0)
		broken = r.m.CheckNetworks(nets)
	}
	for _, n := range nets {
		subject := "network " + n.Name
		if err := broken[n.Name]; err != nil {
			r.repair(subject, err.Error(), "bridge, address and rules restored", func() (bool, error) { return r.m.RepairNetwork(n.Name) }, nil)
		} else if line := r.tries.whole(subject, r.now()); line != "" {
			r.logf("plumb daemon: %s", line)
		}
	}
	eps, hs, err := r.m.EndpointsHealth("")
	if err != nil {
		r.logf("plumb daemon: reading the endpoints: %v", err)
	}
	if needsRepair(hs) {
		r.sweep()
	}
	if n := portsMissing(hs); n > 0 {
		r.restoreRules(nil, n)
	}
	names := false
	for i, ep := range eps {
		names = r.endpoint(ctx, ep, hs[i]) || names
	}
	if names || r.syncDue() {
		r.resync()
	}
	r.releaseStrayHolds()
	r.track(nets, eps)
	r.expiry = r.nextExpiry(eps)
	if r.acted {
		r.kick()
	}
}

// restoreRules puts back plumb's whole firewall in one write
// (network.Manager.RestoreRules), for the rules of the networks named
// nets and the published ports of ports endpoints found missing.
func (r *reconciler) restoreRules(nets []string, ports int) {
	var what []string
	if len(nets) > 0 {
		what = append(what, "rules or bridges of networks "+shortList(nets))
	}
	if ports > 0 {
		what = append(what, "published port rules of "+count(ports, "endpoint"))
	}
	var done string
	r.repair("the firewall", strings.Join(what, "; "), "", func() (bool, error) {
		got, err := r.m.RestoreRules()
		done = fmt.Sprintf("rules of %s and ports of %s restored in one write", count(got.Networks, "network"), count(got.Endpoints, "endpoint"))
		return got.Changed, err
	}, &done)
}

// count is "1 thing" or "N things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// networkNames is the sorted names of broken.
func networkNames(broken map[string]error) []string {
	out := make([]string, 0, len(broken))
	for name := range broken {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// shortList names at most 5 of names, and how many more.
func shortList(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}

// portsMissing counts the endpoints of hs whose published ports' rules
// alone are missing (a repair of their links makes their ports too).
func portsMissing(hs []network.Health) int {
	n := 0
	for _, h := range hs {
		if h.Damage == network.DamagePorts && !h.DaemonSilent {
			n++
		}
	}
	return n
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
		// Its network's repair failed: the next pass tries again.
	case h.Damage&network.DamageLinks != 0 || h.State == network.StateDown:
		r.repair(subject, h.Reason, "attached again with its address, MAC, names and ports",
			func() (bool, error) { return r.m.RepairEndpoint(ctx, ep) }, nil)
	case h.Damage&network.DamageNames != 0:
		return true
	}
	return false
}

// releaseStrayHolds lets go of the host ports held for endpoints with no
// record that publishes them: an attach -p killed after the daemon took
// its ports and before it wrote its record. A hold is let go only when it
// was a stray in the pass before too: an attach under way, or a detach
// letting go itself, is a stray for a moment only. The release takes the
// network's lock, which an attach in progress holds, and checks again.
func (r *reconciler) releaseStrayHolds() {
	held := r.held()
	strays, err := r.m.StrayHolds(held)
	if err != nil {
		return
	}
	seen := map[network.StrayHold]bool{}
	for _, st := range strays {
		seen[st] = true
		if !r.strays[st] {
			continue
		}
		if err := r.m.ReleaseStrayHold(st); err != nil {
			r.logf("plumb daemon: host ports held for %s/%s, which publishes none: %v", st.Network, st.ID, err)
			continue
		}
		r.logf("plumb daemon: host ports held for %s/%s, which publishes none (an attach killed half way): let go", st.Network, st.ID)
	}
	r.strays = seen
}

// needsRepair reports whether some endpoint of hs is to be attached again.
func needsRepair(hs []network.Health) bool {
	for _, h := range hs {
		if h.State != network.StateUp && h.State != network.StateStale && h.Damage&network.DamageLinks != 0 {
			return true
		}
	}
	return false
}

// repair runs fix for subject, whose drift is what, unless subject is
// backed off; when fix changed something (it checks again under its
// locks: a create or attach that was under way when the pass looked is no
// drift), it logs one line: what drifted, what was done (or why not).
func (r *reconciler) repair(subject, what, done string, fix func() (bool, error), doneAfter *string) {
	now := r.now()
	if !r.tries.allow(subject, now) {
		return
	}
	changed, err := fix()
	if errors.Is(err, network.ErrNotFound) || errors.Is(err, network.ErrNotAttached) {
		return // removed meanwhile (a network rm, a detach): nothing to repair
	}
	if !changed && err == nil {
		return // whole by the time it was locked
	}
	r.acted = true
	if doneAfter != nil {
		done = *doneAfter // what fix found it did
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
			r.logf("plumb daemon: %s: namespace gone: published ports let go, address %s kept for %s", subject, ep.Addr(), r.grace)
		}
		return
	}
	expired, err := r.m.ExpireStale(ctx, ep, r.grace, now)
	switch {
	case err != nil:
		r.logf("plumb daemon: %s: stale since %s: detaching: %v", subject, ep.StaleSince.Format(time.RFC3339), err)
	case expired:
		r.logf("plumb daemon: %s: stale for %s: detached, address %s freed", subject, r.grace, ep.Addr())
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
