package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The nft section (issue 16): plumb's two firewall backends side by side,
// in the bench's host netns. Each backend is its own plumb: its own state
// and run dirs (so its own daemon and port holder), PLUMB_FIREWALL=BACKEND
// in the environment of every call, its own network, targets and host
// ports; the two live in the netns at once, their samples taking turns.
//   - `network create` and `network rm` of a second network, beside the
//     one the ports are published on, Samples times each;
//   - at each level of 0, 100 and 1000 ports already published on the host
//     (filler targets publishing nftFillPer ports each), what `-p
//     HOSTPORT:80` adds to an attach and to a detach: the same target is
//     attached without a port and detached, then with one and detached, the
//     orders alternating, as the ports section does;
//   - the data path of each backend (the supervisor's: nftDataPath).
var (
	nftBackends = []string{"iptables", "nftables"}
	nftLevels   = []int{0, 100, 1000}
)

const (
	nftFillPer   = 100   // ports each filler target publishes
	nftFillBase  = 30000 // filler host ports: nftFillBase + backend*5000 + k*nftFillPer + i
	nftProbePort = 18000 // the measured -p HOSTPORT:80: nftProbePort + backend
	nftDataFirst = 4     // the data path's targets: 4.. (1..3 are the datapath section's)
)

// nftFillers is how many filler targets one backend needs at the top level.
func nftFillers() int { return nftLevels[len(nftLevels)-1] / nftFillPer }

// nftTargets is how many target namespaces the nft section uses: the
// fillers of both backends, then one measured target per sample.
func (p *Plan) nftTargets() int { return len(nftBackends)*nftFillers() + p.Samples }

// nftPlumb is one backend's plumb.
type nftPlumb struct {
	fw, state, run string
	idx            int
	r              *Runner
	plan           *Plan
}

// newNftPlumb makes backend idx's plumb, its dirs under the run's temp dir.
func newNftPlumb(p *Plan, idx int) *nftPlumb {
	fw := nftBackends[idx]
	dir := filepath.Join(p.TmpDir, "nft-"+fw)
	return &nftPlumb{fw: fw, idx: idx, plan: p, state: filepath.Join(dir, "state"), run: filepath.Join(dir, "run"),
		r: &Runner{Log: filepath.Join(p.TmpDir, "nft-"+fw+".log"), Env: []string{"PLUMB_DNS_UPSTREAM=none", "PLUMB_FIREWALL=" + fw}}}
}

// argv is the command line of a plumb call of this backend: `PLUMB_FIREWALL=FW
// plumb --state-dir DIR/state --run-dir DIR/run ARGS`.
func (n *nftPlumb) argv(args ...string) []string {
	return append([]string{n.plan.Plumb, "--state-dir", n.state, "--run-dir", n.run}, args...)
}

func (n *nftPlumb) call(args ...string) (Sample, error) { return n.r.Run("", nil, n.argv(args...)...) }

func (n *nftPlumb) netName() string { return "nft-" + n.fw }

// target is the i-th measured target (from 1); filler k (from 0) of this
// backend comes before them all.
func (n *nftPlumb) target(i int) string {
	return n.plan.target(len(nftBackends)*nftFillers() + i)
}
func (n *nftPlumb) filler(k int) string { return n.plan.target(n.idx*nftFillers() + k + 1) }

// key is the series key of this backend's op at level lvl ("" for none).
func (n *nftPlumb) key(lvl int, op string) string {
	if lvl < 0 {
		return "nft." + n.fw + "." + op
	}
	return fmt.Sprintf("nft.%s.%d.%s", n.fw, lvl, op)
}

// nftBench is the worker's nft step.
func (w *worker) nftBench(ctx context.Context) error {
	var ps []*nftPlumb
	for i := range nftBackends {
		n := newNftPlumb(w.plan, i)
		ps = append(ps, n)
		subnet := fmt.Sprintf("10.%d.0.0/16", 232+i)
		if _, err := n.call("network", "create", n.netName(), "--subnet", subnet); err != nil {
			return err
		}
		w.cleanup.Push(func() {
			_, _ = n.call("network", "rm", "--force", n.netName())
			if s := stopDaemon(n.run, w.plan.Plumb, 10*time.Second); s != "" {
				w.res.note("nft: %s", s)
			}
		})
		if err := n.checkBackend(); err != nil {
			return err
		}
	}
	if err := w.nftCreateRm(ctx, ps); err != nil {
		return err
	}
	filled := 0
	for li, lvl := range nftLevels {
		for _, n := range ps {
			if err := n.fillTo(ctx, filled, lvl); err != nil {
				return err
			}
		}
		filled = lvl
		order := ps
		if li%2 == 1 {
			order = []*nftPlumb{ps[1], ps[0]}
		}
		logf("  nft: %d ports published per backend: %d samples", lvl, w.plan.Samples)
		if err := w.nftLevel(ctx, order, lvl); err != nil {
			return err
		}
	}
	return nil
}

// checkBackend fails unless the network of n is on n's backend: `nft list
// table inet plumb-networks` answers for nftables, and there are PLUMB-
// chains in iptables-save for iptables. It says nothing when nft is not
// installed.
func (n *nftPlumb) checkBackend() error {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil
	}
	_, tblErr := exec.Command("nft", "list", "table", "inet", "plumb-networks").CombinedOutput()
	save, _ := exec.Command("iptables-save").CombinedOutput()
	switch {
	case n.fw == "nftables" && tblErr != nil:
		return fmt.Errorf("PLUMB_FIREWALL=nftables: no table inet plumb-networks after network create (is the backend built in?)")
	case n.fw == "iptables" && !strings.Contains(string(save), "PLUMB-"):
		return fmt.Errorf("PLUMB_FIREWALL=iptables: no PLUMB- chain in iptables-save after network create")
	}
	return nil
}

// nftCreateRm times `network create` and `network rm` of a second network
// on each backend, Samples times, the backends taking turns.
func (w *worker) nftCreateRm(ctx context.Context, ps []*nftPlumb) error {
	type pair struct{ c, r *Series }
	var ss []pair
	for _, n := range ps {
		ss = append(ss, pair{
			w.res.add(&Series{Key: n.key(-1, "create"), Tool: "plumb " + n.fw, Op: "network create (a second network, /24)"}),
			w.res.add(&Series{Key: n.key(-1, "rm"), Tool: "plumb " + n.fw, Op: "network rm (of that network)"}),
		})
	}
	logf("  nft: network create and rm, %d samples", w.plan.Samples)
	for j := 1; j <= w.plan.Samples; j++ {
		for k := range ps {
			if err := ctx.Err(); err != nil {
				return err
			}
			i := (j + k) % len(ps)
			n, name := ps[i], ps[i].netName()+"-c"
			c, err := n.call("network", "create", name, "--subnet", fmt.Sprintf("10.234.%d.0/24", i))
			if err != nil {
				return err
			}
			r, err := n.call("network", "rm", name)
			if err != nil {
				return err
			}
			ss[i].c.Samples = append(ss[i].c.Samples, c)
			ss[i].r.Samples = append(ss[i].r.Samples, r)
		}
	}
	return nil
}

// fillTo publishes ports from from to to on n's host, nftFillPer at a time,
// each filler target publishing nftFillPer host ports to its port 80.
func (n *nftPlumb) fillTo(ctx context.Context, from, to int) error {
	for k := from / nftFillPer; k < to/nftFillPer; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		args := []string{"attach", "netns:" + n.filler(k), "--net", n.netName()}
		for i := 0; i < nftFillPer; i++ {
			args = append(args, "-p", fmt.Sprintf("%d:80", nftFillBase+n.idx*5000+k*nftFillPer+i))
		}
		if _, err := n.call(args...); err != nil {
			return fmt.Errorf("filling %s to %d ports: %w", n.fw, to, err)
		}
	}
	return nil
}

// nftLevel takes the samples of one level, the backends taking turns in
// order and, within a sample, plain and -p alternating which goes first.
func (w *worker) nftLevel(ctx context.Context, ps []*nftPlumb, lvl int) error {
	type set struct{ an, ap, dn, dp *Series }
	sets := map[string]set{}
	for _, n := range ps {
		tool := "plumb " + n.fw
		port := fmt.Sprintf("-p %d:80", nftProbePort+n.idx)
		sets[n.fw] = set{
			w.res.add(&Series{Key: n.key(lvl, "attach.none"), Tool: tool, Op: fmt.Sprintf("attach (%d ports on the host)", lvl)}),
			w.res.add(&Series{Key: n.key(lvl, "attach.one"), Tool: tool, Op: fmt.Sprintf("attach %s (%d ports on the host)", port, lvl)}),
			w.res.add(&Series{Key: n.key(lvl, "detach.none"), Tool: tool, Op: fmt.Sprintf("detach (%d ports on the host)", lvl)}),
			w.res.add(&Series{Key: n.key(lvl, "detach.one"), Tool: tool, Op: fmt.Sprintf("detach of %s (%d ports on the host)", port, lvl)}),
		}
	}
	for j := 1; j <= w.plan.Samples; j++ {
		for _, n := range ps {
			if err := ctx.Err(); err != nil {
				return err
			}
			s := sets[n.fw]
			base := []string{"attach", "netns:" + n.target(j), "--net", n.netName()}
			withPort := append(append([]string{}, base...), "-p", fmt.Sprintf("%d:80", nftProbePort+n.idx))
			runs := []struct {
				args   []string
				as, ds *Series
			}{{base, s.an, s.dn}, {withPort, s.ap, s.dp}}
			if j%2 == 0 {
				runs[0], runs[1] = runs[1], runs[0]
			}
			for _, r := range runs {
				a, err := n.call(r.args...)
				if err != nil {
					return err
				}
				d, err := n.call("detach", "netns:"+n.target(j))
				if err != nil {
					return err
				}
				r.as.Samples = append(r.as.Samples, a)
				r.ds.Samples = append(r.ds.Samples, d)
			}
		}
	}
	return nil
}

// nftDataPath is the supervisor's part of the nft section: the data path
// (container to container, localhost to a published port) of each
// backend's plumb, in the bench's host netns, the setups taking turns.
func nftDataPath(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	d := &DataResults{Secs: p.DataSecs, Rounds: p.Rounds, Skips: map[string]string{}}
	res.NftData = d
	iperf, err := exec.LookPath("iperf3")
	if err != nil {
		d.Notes = append(d.Notes, "iperf3 is not installed: no throughput figures")
		return nil
	}
	var ends []*dataEnd
	for i := range nftBackends {
		n := newNftPlumb(p, i)
		if err := os.MkdirAll(filepath.Dir(n.state), 0o755); err != nil {
			return err
		}
		c2c, port, err := plumbEndsOf(p, cl, dataPlumb{key: "nft-" + n.fw, label: "plumb " + n.fw,
			net: "data-" + n.fw, subnet: fmt.Sprintf("10.237.%d.0/24", 10+i), first: nftDataFirst + 3*i,
			iperfPort: plumbIperfPort + 100 + i, httpPort: plumbHTTPPort + 100 + i,
			argv: n.argv, env: []string{"PLUMB_FIREWALL=" + n.fw}, stateRun: n.run})
		if err != nil {
			return fmt.Errorf("data path of plumb %s: %w", n.fw, err)
		}
		ends = append(ends, c2c, port)
		d.Setups = append(d.Setups, c2c.DataSetup, port.DataSetup)
		rm := n.argv("network", "rm", "--force", "data-"+n.fw)
		defer func() {
			if _, err := n.r.Run("", nil, rm...); err != nil {
				d.Notes = append(d.Notes, err.Error())
			}
		}()
	}
	return measureRounds(ctx, p, cl, d, ends, iperf, nil)
}
