package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// The see section (issue 15): how long a person waits for plumb inspect,
// plumb explain (without --probe: it changes nothing and sends nothing)
// and plumb graph. It runs in plumb's throwaway host netns, as every
// worker step does. First a host of seeSmallNets networks of seePerNet
// endpoints, the first endpoint of the first network publishing a port
// and listening on it: inspect and explain are timed there. Then the same
// host grown to seeNets networks (the truth section's size): graph in
// text, dot and svg is timed there, inspect and explain again for the
// record.
const (
	seeNets      = 100 // the grown world's networks, seePerNet endpoints each
	seeSmallNets = 10  // the first world's: seeSmallNets*seePerNet endpoints
	seePerNet    = 10
	seeWarmups   = 2     // untimed rounds before the timed ones
	seeHostPort  = 22000 // published by target 1 to its repairPort
)

func seeNetName(k int) string { return fmt.Sprintf("see-%d", k+1) }
func seeSubnet(k int) string  { return fmt.Sprintf("10.231.%d.0/24", k) }

// seeWorld is the section's host at nets networks; a world of more
// networks grows the one of seeSmallNets (from: those are there already).
func seeWorld(nets int) world {
	from := 0
	if nets > seeSmallNets {
		from = seeSmallNets
	}
	return world{nets: nets, perNet: seePerNet, name: seeNetName, subnet: seeSubnet, from: from,
		key: fmt.Sprintf("see.attach.%d", nets*seePerNet),
		op:  fmt.Sprintf("attach netns:bt-i --net see-k while filling networks %d..%d with %d each (the first with -p)", from+1, nets, seePerNet),
		extra: func(k, i int) []string {
			if i == seeListener {
				return []string{"-p", fmt.Sprintf("%d:%d", seeHostPort, repairPort)}
			}
			return nil
		}}
}

// The targets the commands name: the listener publishes a port and
// serves HTTP on repairPort; its peer is on the same network (see-1);
// the far one is on another (see-2).
const (
	seeListener = 1
	seePeer     = 2
	seeFar      = seePerNet + 1
)

// SeeResults is what the see section found besides its timings.
type SeeResults struct {
	Small int `json:"small"` // endpoints of the two worlds
	Large int `json:"large"`
	// Verdicts are explain --format json's, untimed, at each size:
	// "explain SRC DST: verdict (reason)".
	Verdicts []string `json:"verdicts"`
	// Graph says what the graph commands printed at the large world:
	// the text's first line, and each format's size in bytes.
	GraphHead string         `json:"graph_head"`
	Sizes     map[string]int `json:"sizes"`
}

// seeCmd is one of the commands the rounds time.
type seeCmd struct {
	s    *Series
	args []string // plumb's, after the state and run dirs
}

// seeBench builds the small world, times inspect and explain there, grows
// it, times graph (and inspect and explain again), and removes it. The
// worker's cleanup removes the networks and stops the listener when the
// step fails first.
func (w *worker) seeBench(ctx context.Context) error {
	p := w.plan
	small, large := seeWorld(seeSmallNets), seeWorld(seeNets)
	t := &SeeResults{Small: small.endpoints(), Large: large.endpoints(), Sizes: map[string]int{}}
	w.res.See = t
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		w.res.note("see: %s", n)
	}
	if err := w.serveIn(seeListener); err != nil {
		return err
	}
	if err := w.buildWorld(ctx, small); err != nil {
		return err
	}
	cmds, err := w.seeLookCmds(t, small.endpoints())
	if err != nil {
		return err
	}
	if err := w.seeRounds(ctx, "inspect and explain", cmds); err != nil {
		return err
	}
	if err := w.buildWorld(ctx, large); err != nil {
		return err
	}
	if cmds, err = w.seeLookCmds(t, large.endpoints()); err != nil {
		return err
	}
	graphs, err := w.seeGraphCmds(t)
	if err != nil {
		return err
	}
	if err := w.seeRounds(ctx, "graph", append(graphs, cmds...)); err != nil {
		return err
	}
	if err := w.removeWorld(large, "", ""); err != nil {
		return err
	}
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		w.res.note("see: %s", n)
	}
	return nil
}

// seeLookCmds returns the inspect and explain commands at eps endpoints,
// having run explain --format json once each, untimed, for its verdict.
func (w *worker) seeLookCmds(t *SeeResults, eps int) ([]*seeCmd, error) {
	p := w.plan
	ip, err := w.seeAddr(seeListener)
	if err != nil {
		return nil, err
	}
	tgt := func(i int) string { return "netns:" + p.target(i) }
	add := func(key, op string, args ...string) *seeCmd {
		return &seeCmd{s: w.res.add(&Series{Key: fmt.Sprintf("see.%s.%d", key, eps), Tool: "plumb",
			Op: fmt.Sprintf("%s (%d endpoints)", op, eps)}), args: args}
	}
	port := fmt.Sprintf(":%d", repairPort)
	cmds := []*seeCmd{
		add("inspect", "inspect netns:LISTENER (publishes a port, listens)", "inspect", tgt(seeListener)),
		add("explain.same", "explain netns:PEER netns:LISTENER"+port+" (same network)", "explain", tgt(seePeer), tgt(seeListener)+port),
		add("explain.other", "explain netns:FAR LISTENER-IP"+port+" (from another network)", "explain", tgt(seeFar), ip+port),
	}
	for _, c := range cmds[1:] {
		args := c.args
		if _, err := w.plumb(append(slices.Clip(args), "--format", "json")...); err != nil {
			return nil, err
		}
		var r struct{ Verdict, Reason string }
		if err := json.Unmarshal([]byte(w.run.Output()), &r); err != nil {
			return nil, fmt.Errorf("reading plumb %s --format json: %w", strings.Join(args, " "), err)
		}
		v := fmt.Sprintf("at %d endpoints, `plumb %s`: %s", eps, strings.Join(args, " "), r.Verdict)
		if r.Reason != "" {
			v += " (" + r.Reason + ")"
		}
		t.Verdicts = append(t.Verdicts, v)
	}
	return cmds, nil
}

// seeAddr is target i's address, from plumb ps --format json (untimed).
func (w *worker) seeAddr(i int) (string, error) {
	if _, err := w.plumb("ps", "--net", seeNetName(0), "--format", "json"); err != nil {
		return "", err
	}
	var rows []struct{ Target, IP string }
	if err := json.Unmarshal([]byte(w.run.Output()), &rows); err != nil {
		return "", fmt.Errorf("reading plumb ps --format json: %w", err)
	}
	for _, r := range rows {
		if strings.HasSuffix(r.Target, w.plan.target(i)) {
			addr, _, _ := strings.Cut(r.IP, "/")
			return addr, nil
		}
	}
	return "", fmt.Errorf("plumb ps --net %s does not list %s", seeNetName(0), w.plan.target(i))
}

// seeGraphCmds returns the graph commands, having run each once, untimed,
// for what it printed.
func (w *worker) seeGraphCmds(t *SeeResults) ([]*seeCmd, error) {
	var cmds []*seeCmd
	for _, f := range seeFormats {
		args := []string{"graph", "--format", f}
		if f == "svg" {
			args = append(args, "--renderer", "builtin")
		}
		if _, err := w.plumb(args...); err != nil {
			return nil, err
		}
		if fi, err := os.Stat(w.run.Log); err == nil {
			t.Sizes[f] = int(fi.Size())
		}
		if f == "text" {
			t.GraphHead, _, _ = strings.Cut(w.run.Output(), "\n")
		}
		cmds = append(cmds, &seeCmd{s: w.res.add(&Series{Key: "see.graph." + f, Tool: "plumb",
			Op: fmt.Sprintf("%s (%d networks, %d endpoints)", strings.Join(args, " "), seeNets, t.Large)}), args: args})
	}
	want := fmt.Sprintf("host (%d networks, %d endpoints)", seeNets, t.Large)
	if t.GraphHead != want {
		return nil, fmt.Errorf("plumb graph begins %q, want %q", t.GraphHead, want)
	}
	return cmds, nil
}

// seeRounds times cmds taking turns, round by round (the first of each
// round rotating), after seeWarmups untimed rounds. A command that exits
// non-zero ends the step.
func (w *worker) seeRounds(ctx context.Context, what string, cmds []*seeCmd) error {
	n := w.plan.SeeN
	logf("  see: %s: %d rounds of %d commands, after %d untimed", what, n, len(cmds), seeWarmups)
	for j := 1 - seeWarmups; j <= n; j++ {
		for k := range cmds {
			if err := ctx.Err(); err != nil {
				return err
			}
			c := cmds[((j+k)%len(cmds)+len(cmds))%len(cmds)]
			x, err := w.plumb(c.args...)
			if err != nil {
				return err
			}
			if j >= 1 {
				c.s.Samples = append(c.s.Samples, x)
			}
		}
		if j > 0 && j%10 == 0 {
			logf("  see: %d/%d rounds", j, n)
		}
	}
	return nil
}
