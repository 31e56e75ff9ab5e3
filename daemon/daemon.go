package daemon

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/dns"
	"github.com/plumbnet/plumb/internal/atomicfile"
	"github.com/plumbnet/plumb/internal/lockfile"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/portmap"
)

// Options configure Run.
type Options struct {
	// RunDir holds the control socket, pid file and lock.
	RunDir string
	// Upstreams receive the queries for names that are not plumb's. Empty:
	// no forwarding (SERVFAIL for other names).
	Upstreams []netip.AddrPort
	// ExitWhenIdle stops the daemon once no network is left (set when an
	// attach started it, so nothing outlives plumb's last network).
	ExitWhenIdle bool
	// CheckEvery is how often namespaces are checked for having gone away;
	// zero: 2s.
	CheckEvery time.Duration
	// StaleGrace is how long an endpoint whose namespace is gone keeps its
	// address (and its names and ports, in its record) for its target to
	// come back; then it is detached. Zero: DefaultStaleGrace.
	StaleGrace time.Duration
	// ReconcileEvery is the period of the reconciler's full pass, the
	// safety net beside the notifications; zero: DefaultReconcileEvery.
	ReconcileEvery time.Duration
	// FirewallPoll is the period of the full pass when the firewall gives
	// no notification of changes (iptables-legacy); zero:
	// DefaultFirewallPoll.
	FirewallPoll time.Duration
	// NoReconcile leaves the kernel as it finds it: no repair, no boot
	// restore, stale endpoints kept (for tests of what drifted).
	NoReconcile bool
	// Agent, when set, is the cluster agent the daemon runs and supervises
	// (`plumb daemon --store`). A daemon with an agent ignores
	// ExitWhenIdle: it is the host's member of the cluster.
	Agent *Agent
}

// The reconciler's defaults (Options).
const (
	DefaultStaleGrace     = 10 * time.Minute
	DefaultReconcileEvery = time.Minute
	DefaultFirewallPoll   = 5 * time.Second
)

// defaults fills in o's zero durations.
func (o *Options) defaults() {
	if o.CheckEvery == 0 {
		o.CheckEvery = 2 * time.Second
	}
	if o.StaleGrace == 0 {
		o.StaleGrace = DefaultStaleGrace
	}
	if o.ReconcileEvery == 0 {
		o.ReconcileEvery = DefaultReconcileEvery
	}
	if o.FirewallPoll == 0 {
		o.FirewallPoll = DefaultFirewallPoll
	}
}

// daemon is one running `plumb daemon`: its parts and the state it reads.
type daemon struct {
	state  *network.Manager
	opts   Options
	names  *nameService
	ports  *portHolder
	reaper *reaper
	rec    *reconciler // nil with NoReconcile
	// syncDue: a repair of the daemon's asked it to serve the state
	// directory again (local.Sync); the reconciler does, once per pass.
	syncDue atomic.Bool
}

// Run runs the daemon over the state directory of m until ctx ends (or,
// with ExitWhenIdle, until no network is left). Only one runs per run
// directory: a second one returns nil at once (control.Running tells
// whether one runs, and its pid). At start it rebuilds every listener,
// every name and every held port from the state on disk, and deletes the
// retired veths left over, so that a daemon killed and started again
// serves what it served before with no command repeated. What a SIGKILLed
// daemon left in the run directory (its pid file and socket) is removed as
// soon as the lock is held; the pid file is written once the socket
// listens, and removed at exit.
func Run(ctx context.Context, m *network.Manager, o Options) error {
	if o.Agent != nil {
		if err := o.Agent.check(); err != nil {
			return err
		}
		o.ExitWhenIdle = false
	}
	lock, err := claim(o.RunDir)
	if err != nil {
		return err
	}
	if lock == nil {
		if pid, ok := control.Running(o.RunDir); ok {
			log.Printf("plumb daemon: another daemon (pid %d) runs for %s", pid, o.RunDir)
		} else {
			log.Printf("plumb daemon: another daemon runs for %s", o.RunDir)
		}
		return nil
	}
	defer lock.Unlock()
	o.defaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fwd dns.Forwarder
	if len(o.Upstreams) > 0 {
		fwd = &dns.UpstreamForwarder{Servers: o.Upstreams}
	}
	d := &daemon{state: m, opts: o, names: newNameService(ctx, fwd), ports: newPortHolder(), reaper: newReaper()}
	defer d.close()
	// The daemon's own repairs (an attach again, a network restored) ask
	// it to serve names and hold ports in-process.
	m.Daemon = local{d}
	if !o.NoReconcile {
		d.rec = newReconciler(m, parts{resync: d.sync, sweep: d.reaper.sweepNow, held: d.ports.keys,
			syncDue: func() bool { return d.syncDue.Swap(false) },
			ours:    lock.Current}, o.StaleGrace, o.ReconcileEvery, log.Printf)
	}
	d.sync()
	d.reaper.sweep()

	sock := control.SocketPath(o.RunDir) // claim removed a stale one
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", sock, err)
	}
	os.Chmod(sock, 0o600)
	// Written once the socket listens, whole or not at all; removed before
	// the lock is let go.
	pidFile := control.PIDPath(o.RunDir)
	if err := atomicfile.Replace(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		log.Printf("plumb daemon: %v", err)
	}
	// The pid file and the socket are removed at exit only while the run
	// directory is still this daemon's: once it was replaced, those paths
	// may be another daemon's.
	defer func() {
		if lock.Current() {
			os.Remove(pidFile)
		}
	}()
	// A cluster agent's word about remote endpoints written since the
	// first sync and before the socket listened was lost: read them again.
	d.syncRemotes()
	disown := func() {
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	}
	log.Printf("plumb daemon: pid %d serving %s (upstreams %v)", os.Getpid(), sock, o.Upstreams)

	defer d.followDocker(ctx)() // re-attaches restarted containers; stopped before d.close
	if o.Agent != nil {
		stopped := make(chan struct{})
		go func() { defer close(stopped); o.Agent.supervise(ctx, log.Printf) }()
		defer func() { cancel(); <-stopped }()
	}
	go d.watch(ctx, cancel, lock, disown)
	if d.rec != nil {
		go d.rec.watchLinks(ctx)
		go d.rec.watchFirewall(ctx, o.FirewallPoll)
		go d.rec.watchStore(ctx)
		go d.rec.run(ctx)
	}
	control.Serve(ctx, ln, d.handle)
	return nil
}

// claim makes runDir and takes the daemon's lock on it, or returns nil
// when another daemon holds it (and then touches nothing). Holding the
// lock, it removes the pid file and socket it finds: only a daemon that
// died without its cleanup (SIGKILL) leaves them, and its pid may by now
// be another process's. So the pid file names no process at all until
// this daemon writes its own, once its socket listens.
func claim(runDir string) (*lockfile.Lock, error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	lock, err := lockfile.TryAcquire(control.LockPath(runDir))
	// A SIGKILLed daemon holds the lock until its last thread has exited,
	// a moment after its pid shows it gone (control.Running no longer
	// finds it): a daemon started then waits for it, rather than exit
	// and leave none running.
	for deadline := time.Now().Add(2 * time.Second); lock == nil && err == nil && time.Now().Before(deadline); {
		if _, live := control.Running(runDir); live {
			break
		}
		time.Sleep(10 * time.Millisecond)
		lock, err = lockfile.TryAcquire(control.LockPath(runDir))
	}
	if lock == nil || err != nil {
		return nil, err
	}
	for _, stale := range []string{control.PIDPath(runDir), control.SocketPath(runDir)} {
		if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
			lock.Unlock()
			return nil, fmt.Errorf("removing %s left by a killed daemon: %w", stale, err)
		}
	}
	return lock, nil
}

// handle answers one control request.
func (d *daemon) handle(req control.Request) control.Reply {
	var err error
	var rep control.Reply
	switch req.Op {
	case control.OpPing:
	case control.OpUp:
		err = d.up(req.Network, req.Endpoint)
	case control.OpDown:
		d.names.down(req.Network, req.Endpoint)
	case control.OpReap:
		if req.Reap == nil {
			err = errors.New("reap: no link named")
		} else {
			err = d.reaper.reap(*req.Reap)
		}
	case control.OpSync:
		d.sync()
	case control.OpRemotes:
		err = d.remotes(req.Network)
	case control.OpRecords:
		rep.Records = d.names.records(req.Network)
	case control.OpHold:
		rep.Ports, err = d.ports.hold(control.Key(req.Network, req.Endpoint), req.Ports)
		if errors.Is(err, portmap.ErrInUse) {
			rep.Code = control.CodeInUse
		}
	case control.OpRelease:
		d.ports.release(control.Key(req.Network, req.Endpoint))
	case control.OpListeners:
		rep.Namespaces, rep.NoRoute = d.names.listeners()
		rep.Held = d.ports.h.Keys()
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep
}

// up serves the endpoint id of netName as its record says.
func (d *daemon) up(netName, id string) error {
	n, err := d.state.Get(netName)
	if err != nil {
		return err
	}
	ep, err := d.state.Endpoint(netName, id)
	if err != nil {
		return fmt.Errorf("endpoint %s of %q: %w", id, netName, err)
	}
	if d.rec != nil {
		d.rec.watchEndpoint(n, ep)
	}
	return d.names.up(n, ep)
}

// sync makes the daemon serve exactly what the state directory says:
// every endpoint whose namespace is alive, every network's gateway, every
// recorded published port.
func (d *daemon) sync() {
	nets, _ := d.state.List()
	var eps []*network.Endpoint
	for _, n := range nets {
		list, _ := d.state.Endpoints(n.Name)
		eps = append(eps, list...)
	}
	d.ports.sync(eps)
	d.names.sync(nets, eps, d.allRemotes(nets))
	if d.rec != nil {
		d.rec.track(nets, eps)
	}
}

// remotes serves the remote endpoint records of netName as the state
// directory has them (OpRemotes, from the cluster agent).
func (d *daemon) remotes(netName string) error {
	if _, err := d.state.Get(netName); err != nil {
		return err
	}
	recs, err := d.state.Remotes(netName)
	if err != nil {
		return err
	}
	d.names.setRemotes(netName, recs)
	return nil
}

// syncRemotes serves the remote endpoint records of every overlay network
// as the state directory has them.
func (d *daemon) syncRemotes() {
	nets, _ := d.state.List()
	for name, recs := range d.allRemotes(nets) {
		d.names.setRemotes(name, recs)
	}
}

// allRemotes reads the remote endpoint records of the overlay networks of
// nets, by network.
func (d *daemon) allRemotes(nets []*network.Network) map[string][]network.RemoteEndpoint {
	out := map[string][]network.RemoteEndpoint{}
	for _, n := range nets {
		if n.Overlay() {
			out[n.Name], _ = d.state.Remotes(n.Name)
		}
	}
	return out
}

// watch closes the listeners of namespaces that went away (their
// container stopped, their netns was deleted), stops the daemon when the
// lock of its run directory is not the one it holds any more, and with
// ExitWhenIdle stops it once no network is left.
func (d *daemon) watch(ctx context.Context, stop context.CancelFunc, lock *lockfile.Lock, disown func()) {
	t := time.NewTicker(d.opts.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !lock.Current() {
			// The run directory was removed or made again: another daemon
			// may hold it now, and this one must not act beside it.
			log.Printf("plumb daemon: %s is not the lock this daemon holds any more (the run directory was removed or replaced): exiting", control.LockPath(d.opts.RunDir))
			disown()
			stop()
			return
		}
		d.names.prune()
		if d.opts.ExitWhenIdle {
			if nets, err := d.state.List(); err == nil && len(nets) == 0 {
				log.Printf("plumb daemon: no network left, exiting")
				stop()
				return
			}
		}
	}
}

func (d *daemon) close() {
	d.ports.close()
	d.names.close()
	d.reaper.wait()
}
