package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// worker runs the benchmarks from inside the host netns.
type worker struct {
	plan    *Plan
	res     *Results
	run     *Runner
	cleanup Cleanup
	lan     *nsThread // the repair section's LAN client, once made
}

// workerMain is the worker process: it checks where it runs, measures, undoes
// what it made inside the host netns, and saves its results, partial ones
// included. It returns the process exit code.
func workerMain(host, planPath string) int {
	var plan Plan
	b, err := os.ReadFile(planPath)
	if err == nil {
		err = json.Unmarshal(b, &plan)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench worker: reading the plan:", err)
		return 1
	}
	if err := checkInNetns(host); err != nil {
		fmt.Fprintln(os.Stderr, "bench worker: refusing to run outside the throwaway netns:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	w := &worker{
		plan: &plan,
		res:  &Results{},
		// Every plumb daemon the bench starts forwards nothing: the names
		// it is asked for are its own, and nothing may leave the bench netns.
		run: &Runner{Log: filepath.Join(plan.TmpDir, "worker.log"), Env: []string{"PLUMB_DNS_UPSTREAM=none"}},
	}
	// Pushed first, so it runs last: after the networks are gone.
	w.cleanup.Push(func() {
		if n := stopDaemon(plan.runDir(), plan.Plumb, 10*time.Second); n != "" {
			w.res.note("%s", n)
		}
	})
	err = w.all(ctx)
	w.cleanup.Run()
	if err != nil {
		w.res.Error = err.Error()
		logf("worker: %v", err)
	}
	if serr := w.res.save(plan.Results); serr != nil {
		fmt.Fprintln(os.Stderr, "bench worker: saving results:", serr)
		return 1
	}
	if err != nil {
		return 1
	}
	return 0
}

// all runs the worker's sections in order. The level benchmark comes first,
// on a quiet machine; the DNS benchmark runs last, once the daemon of the
// other steps has exited. The data path is the supervisor's (it needs the
// real host's localhost for Docker's published port).
func (w *worker) all(ctx context.Context) error {
	steps := []struct {
		section, name string
		fn            func(context.Context) error
	}{
		{"floors", "process floors", w.processFloors},
		{"latency", "attach/detach as the network fills", w.latencyLevels},
		{"floors", "kernel floor", w.kernelFloor},
		{"burst", "burst", w.burst},
		{"ports", "published-port attach", w.portsAttach},
		{"cni", "plumb as a CNI plugin", w.plumbCNI},
		{"cni", "CNI DEL floors", w.cniDelFloors},
		{"truth", "ps and doctor at 100 networks / 1000 endpoints", w.truthBench},
		{"see", "inspect and explain at 100 endpoints, graph at 1000", w.seeBench},
		{"repair-one", "repair: one network's rules flushed, its bridge deleted", w.repairOne},
		{"repair-scale", "repair: the daemon at 100 networks / 1000 endpoints", w.repairScale},
		{"nft", "firewall backends: network create/rm, -p at 0/100/1000 published ports", w.nftBench},
		{"ipv6", "IPv6: dual-stack attach against IPv4-only, interleaved", w.ipv6Attach},
		{"dns", "DNS", w.dnsBench},
	}
	for _, s := range steps {
		if !w.plan.runs(s.section) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		logf("%s", s.name)
		w.res.Loads = append(w.res.Loads, s.name+" "+loadAvg())
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// repeat times fn(i) for i in [from, to], appending to s, stopping at the
// first error or when ctx is done. It prints progress every 100 runs.
func repeat(ctx context.Context, s *Series, from, to int, fn func(i int) (Sample, error)) error {
	for i := from; i <= to; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		x, err := fn(i)
		if err != nil {
			return err
		}
		s.Samples = append(s.Samples, x)
		if (i-from+1)%100 == 0 {
			logf("  %s: %d/%d", s.Key, i-from+1, to-from+1)
		}
	}
	return nil
}
