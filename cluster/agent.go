package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/overlay"
	"github.com/plumbnet/plumb/store"
)

// Config is what the agent of one host needs.
type Config struct {
	Store    *store.Store
	Host     string     // this host's name in the store
	Underlay netip.Addr // this host's VTEP address
	StateDir string     // plumb's state directory on this host
	RunDir   string     // plumb's run directory; "": plumb's default

	TTL       time.Duration // host lease; 0 is 10 s
	BlockBits int           // size of a claimed block; 0 is /26
	Poll      time.Duration // round interval; 0 is 200 ms
	Grace     time.Duration // how long a dead host's endpoints stay programmed; 0 is 30 s
	Log       func(format string, args ...any)
}

func (c *Config) defaults() {
	if c.TTL == 0 {
		c.TTL = 10 * time.Second
	}
	if c.BlockBits == 0 {
		c.BlockBits = 26
	}
	if c.Poll == 0 {
		c.Poll = 200 * time.Millisecond
	}
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
}

// opTimeout bounds each store request of a round: an unreachable etcd
// costs a round this long, then the next round tries again.
const opTimeout = 3 * time.Second

// agent is the state of one Run.
type agent struct {
	cfg Config
	m   *network.Manager
	h   *netlink.Handle
	w   *world

	made       map[string]string                            // network -> what was materialized (fingerprint)
	programmed map[string]map[string]overlay.Remote         // network -> store endpoint id -> remote
	readd      map[string]bool                              // network -> re-add every remote (after Ensure)
	vxIndex    map[string]int                               // network -> its VXLAN device's index when last ensured
	named      map[string]map[string]network.RemoteEndpoint // network -> the remote names written last
	logged     map[string]string                            // key -> the error logged last for it
}

// Run is the agent: it joins the cluster as cfg.Host and reconciles until
// ctx ends (then it leaves: its host record goes with its lease). It
// returns an error only for what no retry fixes: bad config, a netlink
// socket it cannot open, a Join that fails before ctx ends.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	mem, err := cfg.Store.Join(ctx, store.Host{Name: cfg.Host, Underlay: cfg.Underlay}, cfg.TTL)
	if err != nil {
		return fmt.Errorf("joining the cluster as %q: %w", cfg.Host, err)
	}
	defer mem.Close()
	m := network.NewManager(cfg.StateDir)
	m.RunDir = cfg.RunDir
	a := &agent{cfg: cfg, m: m, h: h, w: newWorld(cfg.Host),
		made: map[string]string{}, logged: map[string]string{}, programmed: map[string]map[string]overlay.Remote{}, readd: map[string]bool{}, vxIndex: map[string]int{},
		named: map[string]map[string]network.RemoteEndpoint{}}
	snap, err := a.load(ctx)
	if err != nil {
		return err
	}
	cfg.Log("plumb-cluster: %s (%s) joined at revision %d: %d network(s), %d host(s)",
		cfg.Host, cfg.Underlay, snap.Rev, len(snap.Networks), len(snap.Hosts))
	return a.loop(ctx, cfg.Store.Watch(ctx, snap.Rev+1))
}

// load reads the whole store, retrying until it answers or ctx ends.
func (a *agent) load(ctx context.Context) (*store.Snapshot, error) {
	for {
		lctx, cancel := context.WithTimeout(ctx, opTimeout)
		snap, err := a.cfg.Store.Load(lctx)
		cancel()
		if err == nil {
			a.w.reset(snap)
			return snap, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.cfg.Log("plumb-cluster: loading the store: %v (retrying)", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// loop applies the store's events as they come, running a round after
// each burst of them, and a round every Poll: the local endpoint records
// are polled, so a round runs even when the store is quiet.
func (a *agent) loop(ctx context.Context, events <-chan store.Event) error {
	tick := time.NewTicker(a.cfg.Poll)
	defer tick.Stop()
	a.round(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			a.w.apply(ev, time.Now())
			// A burst of events is one round, run at once: another host's
			// attach is programmed here without waiting for the tick.
			if !a.drain(events) {
				return nil
			}
			a.round(ctx)
		case <-tick.C:
			a.round(ctx)
		}
	}
}

// drain applies the events already waiting on events, without blocking;
// false when the channel is closed.
func (a *agent) drain(events <-chan store.Event) bool {
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return false
			}
			a.w.apply(ev, time.Now())
		default:
			return true
		}
	}
}

// round converges this host once: networks, then for each its local
// endpoints and its remotes. Errors are logged and retried next round.
func (a *agent) round(ctx context.Context) {
	a.removeGone(ctx)
	for _, name := range a.w.networkNames() {
		if ctx.Err() != nil {
			return
		}
		if err := a.network(ctx, name); err != nil {
			a.logOnce(name, err)
			continue
		}
		a.clearLog(name)
		if err := a.publish(ctx, name); err != nil {
			a.logOnce(name+"/publish", err)
		} else {
			a.clearLog(name + "/publish")
		}
		if err := a.names(name); err != nil {
			a.logOnce(name+"/names", err)
		} else {
			a.clearLog(name + "/names")
		}
		if err := a.program(name, time.Now()); err != nil {
			a.logOnce(name+"/program", err)
		} else {
			a.clearLog(name + "/program")
		}
	}
}

// logOnce logs err for key unless it is the one logged last for it: a
// round repeats every 200 ms.
func (a *agent) logOnce(key string, err error) {
	if a.logged[key] != err.Error() {
		a.logged[key] = err.Error()
		a.cfg.Log("plumb-cluster: %s: %v", key, err)
	}
}

func (a *agent) clearLog(key string) { delete(a.logged, key) }
