package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// burstNet is plumb's network in the burst test.
const (
	burstNet    = "burst"
	burstSubnet = "10.242.0.0/16"
)

// BurstRun is one tool's burst: Burst attaches started at once, then as
// many detaches.
type BurstRun struct {
	Tool       string
	N          int
	Wall       time.Duration // first start to last exit, attaches
	DetachWall time.Duration // same, detaches
	Failed     int           // attaches that exited non-zero
	DetFailed  int           // detaches that exited non-zero
	Missing    int           // targets with no IPv4 address on eth0 afterwards
	Dups       int           // addresses held by more than one target
	FirstErr   string
	Daemon     string // plumb: whether its daemon was up when the burst began
}

// burst runs the burst test for plumb and, unless it is skipped, the CNI
// reference plugins.
func (w *worker) burst(ctx context.Context) error {
	p := w.plan
	if _, err := w.createNetwork(burstNet, burstSubnet); err != nil {
		return err
	}
	daemon := "its daemon was not running (the burst's attaches raced to start it)"
	if pid, err := daemonPID(p.runDir(), p.Plumb); err == nil && pid > 0 {
		daemon = "its daemon was already running"
	}
	pl := &BurstRun{Tool: "plumb", Daemon: daemon}
	err := w.runBurst(ctx, pl, "plumb", p.target,
		func(r *Runner, i int) (Sample, error) {
			return r.Run("", nil, plumbArgv(p, "attach", "netns:"+p.target(i), "--net", burstNet)...)
		},
		func(r *Runner, i int) (Sample, error) {
			return r.Run("", nil, plumbArgv(p, "detach", "netns:"+p.target(i))...)
		},
		Runner{Env: w.run.Env})
	w.res.Bursts = append(w.res.Bursts, pl)
	if err != nil {
		return err
	}
	if _, err := w.plumb("network", "rm", "--force", burstNet); err != nil {
		return err
	}

	if p.CNISkip != "" {
		return nil
	}
	t := newCNITool(w)
	if err := t.setup(ctx); err != nil {
		return err
	}
	cni := &BurstRun{Tool: t.name()}
	err = w.runBurst(ctx, cni, "cni", t.ns.target,
		func(r *Runner, i int) (Sample, error) { return t.call(r, "ADD", i) },
		func(r *Runner, i int) (Sample, error) { return t.call(r, "DEL", i) },
		Runner{Netns: netnsPath(t.ns.Host)})
	w.res.Bursts = append(w.res.Bursts, cni)
	_, _ = sh("ip", "-n", t.ns.Host, "link", "del", cniBridge)
	return err
}

// runBurst starts p.Burst attaches at once (goroutines released together,
// each running one process), checks the addresses the targets got, then
// does the same with the detaches. Each call's timing goes to the series
// "burst.KEY.attach" and "burst.KEY.detach".
func (w *worker) runBurst(ctx context.Context, b *BurstRun, key string, target func(int) string,
	attach, detach func(r *Runner, i int) (Sample, error), proto Runner) error {
	n := w.plan.Burst
	b.N = n
	dir := filepath.Join(w.plan.TmpDir, "burst-"+key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	runners := make([]*Runner, n+1)
	for i := 1; i <= n; i++ {
		r := proto
		r.Log = filepath.Join(dir, fmt.Sprintf("%d.log", i))
		runners[i] = &r
	}
	once := func(op string, fn func(r *Runner, i int) (Sample, error)) (*Series, time.Duration, int, string) {
		s := w.res.add(&Series{Key: "burst." + key + "." + op, Tool: b.Tool, Op: fmt.Sprintf("%s, %d started at once", op, n)})
		samples := make([]Sample, n+1)
		errs := make([]error, n+1)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := 1; i <= n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				samples[i], errs[i] = fn(runners[i], i)
			}()
		}
		t0 := time.Now()
		close(gate)
		wg.Wait()
		wall := time.Since(t0)
		failed, first := 0, ""
		for i := 1; i <= n; i++ {
			if errs[i] != nil {
				failed++
				if first == "" {
					first = errs[i].Error()
				}
				continue
			}
			s.Samples = append(s.Samples, samples[i])
		}
		return s, wall, failed, first
	}

	if err := ctx.Err(); err != nil {
		return err
	}
	logf("  %s: %d attaches at once", key, n)
	_, b.Wall, b.Failed, b.FirstErr = once("attach", attach)
	seen := map[string]int{}
	for i := 1; i <= n; i++ {
		out, err := sh("ip", "-n", target(i), "-4", "-o", "addr", "show", "dev", "eth0")
		ip := ""
		if f := strings.Fields(out); err == nil && len(f) >= 4 && f[2] == "inet" {
			ip = f[3]
		}
		if ip == "" {
			b.Missing++
			continue
		}
		seen[strings.Split(ip, "/")[0]]++
	}
	for _, c := range seen {
		if c > 1 {
			b.Dups += c - 1
		}
	}
	logf("  %s: %d detaches at once", key, n)
	var derr string
	_, b.DetachWall, b.DetFailed, derr = once("detach", detach)
	if b.FirstErr == "" {
		b.FirstErr = derr
	}
	return nil
}
