package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// The repair section's single network: one endpoint publishing a port.
const (
	repairOneNet      = "repair-one"
	repairOneSubnet   = "10.233.0.0/24"
	repairOneHostPort = 20080
	// The LAN client: a namespace joined to the bench's host netns by a
	// veth pair, as a machine on the host's LAN; it reaches published
	// ports at lanHostAddr, the host's address on that "LAN".
	lanHostAddr   = "10.232.0.1"
	lanClientAddr = "10.232.0.2"
	lanThreads    = 8 // probes of the LAN client at once
)

// repairOneTarget is the single network's target: the first after the
// world of repair-scale when that runs too (its listener is not stopped
// before the worker ends).
func (p *Plan) repairOneTarget() int {
	if p.runs("repair-scale") {
		return repairWorld.endpoints() + 1
	}
	return 1
}

// repairResults returns the section's results, making them on first use.
func (w *worker) repairResults() *RepairResults {
	if w.res.Repair == nil {
		w.res.Repair = &RepairResults{Bound: w.plan.RepairBound, Pace: w.plan.RepairPace, Skips: map[string]string{}}
	}
	return w.res.Repair
}

// repairOne breaks one network's rules and bridge, the two kinds of drift
// taking turns round by round (each paced on its own), and times how long
// until the published port answers again (from the LAN client and from the
// host's localhost) and the endpoint's gateway pings again.
func (w *worker) repairOne(ctx context.Context) error {
	p, r := w.plan, w.repairResults()
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		w.res.note("repair: %s", n) // a fresh daemon, started by this part's attach
	}
	flush, bridge, err := w.repairOneSetup(ctx)
	if err != nil {
		return err
	}
	logf("  repair-one: %d rounds of each drift, at most %d of a kind a minute; each wait at most %v", p.RepairN, p.RepairPace, p.RepairBound)
	for j := 1; j <= p.RepairN && (flush.active() || bridge.active()); j++ {
		for _, d := range []*driftRun{flush, bridge} {
			if d.active() {
				if err := d.round(ctx, p, p.RepairBound, j); err != nil {
					return err
				}
			}
		}
		if j%10 == 0 {
			logf("  repair-one: %d/%d rounds", j, p.RepairN)
		}
	}
	if flush.v.Stopped != "" && flush.v.Misses == 0 && bridge.v.Misses > 0 {
		flush.v.Stopped += fmt.Sprintf(" (the bridge-delete rounds, on the same network, missed %d: its bridge may have been missing)", bridge.v.Misses)
	}
	if _, err := w.plumb("network", "rm", "--force", repairOneNet); err != nil {
		r.note("repair-one: `network rm --force %s` failed at the end: %v", repairOneNet, err)
	}
	return nil
}

// repairOneSetup makes the network, its endpoint publishing a port with
// the bench's listener behind it, and the two kinds of drift with their
// probes.
func (w *worker) repairOneSetup(ctx context.Context) (flush, bridge *driftRun, err error) {
	p, r := w.plan, w.repairResults()
	lan, err := w.lanClient()
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.createNetwork(repairOneNet, repairOneSubnet); err != nil {
		return nil, nil, err
	}
	i := p.repairOneTarget()
	if err := w.serveIn(i); err != nil {
		return nil, nil, err
	}
	if _, err := w.plumb("attach", "netns:"+p.target(i), "--net", repairOneNet, "-p", fmt.Sprintf("%d:%d", repairOneHostPort, repairPort)); err != nil {
		return nil, nil, err
	}
	net, err := w.network(repairOneNet)
	if err != nil {
		return nil, nil, err
	}
	host, err := w.nsThread("", 1)
	if err != nil {
		return nil, nil, err
	}
	ep, err := w.nsThread(netnsPath(p.target(i)), 1)
	if err != nil {
		return nil, nil, err
	}
	lanURL, localURL := fmt.Sprintf("%s:%d", lanHostAddr, repairOneHostPort), fmt.Sprintf("127.0.0.1:%d", repairOneHostPort)
	probes := []probe{{"from the LAN client", func() error { return lan.httpAnswers(lanURL) }}}
	if answersWithin(ctx, func() error { return host.httpAnswers(localURL) }, p.RepairBound) {
		probes = append(probes, probe{"from the host's localhost", func() error { return host.httpAnswers(localURL) }})
	} else {
		r.note("repair-one: the published port never answered on the bench netns's localhost (%s): that probe is left out", localURL)
	}
	flush = newDrift(w.res, r, "repair.one.flush", "plumb daemon",
		fmt.Sprintf("`%s` in the host netns → the port published by `attach -p %d:%d` answers", flushScript, repairOneHostPort, repairPort),
		"flush filter+nat → published port answers (1 network, 1 endpoint)", probes, w.flush)
	var seq uint16
	gw := net.Gateway
	bridge = newDrift(w.res, r, "repair.one.bridge", "plumb daemon",
		fmt.Sprintf("`ip link del %s` (the network's bridge) → the endpoint pings its gateway %s", net.Bridge, gw),
		"bridge deleted → the endpoint pings its gateway", []probe{{"gateway ping", func() error { seq++; return ep.pings(gw, seq) }}},
		func() error { _, err := w.inHost("ip", "link", "del", net.Bridge); return err })
	return flush, bridge, nil
}

// flush runs the flush inside the bench's host netns.
func (w *worker) flush() error {
	_, err := w.inHost("sh", "-c", flushScript)
	return err
}

// inHost runs argv inside the bench's host netns, named explicitly
// (whatever thread this goroutine is on), and returns its output.
func (w *worker) inHost(argv ...string) (string, error) { return inHost(w.plan, argv...) }

func inHost(p *Plan, argv ...string) (string, error) {
	return runIn(netnsPath(p.Host), nil, 2*time.Minute, argv...)
}

// answersWithin polls fn every repairPoll until it succeeds, for at most bound.
func answersWithin(ctx context.Context, fn func() error, bound time.Duration) bool {
	for t0 := time.Now(); time.Since(t0) <= bound && ctx.Err() == nil; sleepCtx(ctx, repairPoll) {
		if fn() == nil {
			return true
		}
	}
	return false
}

// nsThread starts n probe threads in the netns file path ("": the
// worker's, the bench's host netns) and registers their end.
func (w *worker) nsThread(path string, n int) (*nsThread, error) {
	t, err := newNSThread(path, n)
	if err != nil {
		return nil, err
	}
	w.cleanup.Push(t.close)
	return t, nil
}

// serveIn starts the HTTP listener on repairPort inside target i and
// registers its stop.
func (w *worker) serveIn(i int) error {
	s, err := serveHTTPIn(netnsPath(w.plan.target(i)), repairPort)
	if err != nil {
		return err
	}
	w.cleanup.Push(s.stop)
	return nil
}

// lanClient returns probe threads inside the LAN client's namespace,
// joined to the bench's host netns by a veth pair, making it on first use.
// Equivalent to: `ip netns add HOST-lan; ip -n HOST link add lan0 type veth
// peer name lan1 netns HOST-lan`, addresses, up.
func (w *worker) lanClient() (*nsThread, error) {
	if w.lan != nil {
		return w.lan, nil
	}
	p := w.plan
	name := p.Host + "-lan"
	if err := addNetns(name); err != nil {
		return nil, err
	}
	w.cleanup.Push(func() { _ = delNetns(name) })
	for _, argv := range [][]string{
		{"ip", "-n", p.Host, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1", "netns", name},
		{"ip", "-n", p.Host, "addr", "add", lanHostAddr + "/30", "dev", "lan0"},
		{"ip", "-n", name, "addr", "add", lanClientAddr + "/30", "dev", "lan1"},
		{"ip", "-n", p.Host, "link", "set", "lan0", "up"},
		{"ip", "-n", name, "link", "set", "lan1", "up"},
		{"ip", "-n", name, "link", "set", "lo", "up"},
		{"ip", "-n", name, "route", "add", "default", "via", lanHostAddr},
	} {
		if _, err := sh(argv...); err != nil {
			return nil, err
		}
	}
	var err error
	w.lan, err = w.nsThread(netnsPath(name), lanThreads)
	return w.lan, err
}

// benchNetwork is what the repair section reads of a plumb network.
type benchNetwork struct {
	Name    string     `json:"name"`
	Bridge  string     `json:"bridge"`
	Gateway netip.Addr `json:"gateway"`
}

// networks reads `plumb network ls --format json`, untimed.
func (w *worker) networks() ([]benchNetwork, error) {
	out, err := w.inHost(plumbArgv(w.plan, "network", "ls", "--format", "json")...)
	if err != nil {
		return nil, err
	}
	var nets []benchNetwork
	if err := json.Unmarshal([]byte(out), &nets); err != nil {
		return nil, fmt.Errorf("reading plumb network ls --format json: %w", err)
	}
	return nets, nil
}

// network is the network named name.
func (w *worker) network(name string) (benchNetwork, error) {
	nets, err := w.networks()
	for _, n := range nets {
		if n.Name == name {
			return n, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("plumb network ls does not list %s", name)
	}
	return benchNetwork{}, err
}
