package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// targetPrefix names the target namespaces: bt-1, bt-2, …; BENCH_PREFIX
// changes it, so that two runs can share a machine.
var targetPrefix = cmp.Or(os.Getenv("BENCH_PREFIX"), "bt-")

// baselineRuns is how many times `ip netns exec HOST true` is timed.
const baselineRuns = 20

// supervisorMain sets the stage, runs the worker inside the throwaway host
// netns, cleans up and reports. It returns the process exit code.
func supervisorMain(args []string) int {
	cfg, err := parseConfig(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (it creates network namespaces and runs plumb)")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cl Cleanup
	defer cl.Run() // also on panic; Run is idempotent
	rep, err := supervise(ctx, cfg, &cl)
	if rep == nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if err != nil && rep.Results.Error == "" {
		rep.Results.Error = err.Error()
	} else if err != nil {
		rep.Results.Error += "; " + err.Error()
	}
	if n := len(rep.HostDiff.Added); n > 0 {
		logf("WARNING: %d entries on the host are new since the start of the run; see the report's host check", n)
	}
	text := rep.Markdown()
	fmt.Print(text)
	if rep.Results.Error != "" || ctx.Err() != nil {
		logf("run incomplete: %s; %s left untouched", rep.Results.Error, cfg.Out)
		return 1
	}
	if err := writeFileAtomic(cfg.Out, []byte(text)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	logf("report written to %s", cfg.Out)
	return 0
}

// supervise does the work of supervisorMain. It returns a nil Report only
// when nothing was measured.
func supervise(ctx context.Context, cfg Config, cl *Cleanup) (*Report, error) {
	var err error
	if cfg.Plumb, err = filepath.Abs(cfg.Plumb); err != nil {
		return nil, err
	}
	if err := unix.Access(cfg.Plumb, unix.X_OK); err != nil {
		return nil, fmt.Errorf("plumb binary %s: %w (run `make build`)", cfg.Plumb, err)
	}
	plan := &Plan{
		Config:     cfg,
		Host:       fmt.Sprintf("plumb-bench-%d", os.Getpid()),
		Prefix:     targetPrefix,
		Namespaces: max(cfg.N, cfg.Fill+fillSample),
		CNISkip:    cniMissing(cfg.CNIDir),
	}
	if cfg.DNS {
		plan.Namespaces = max(plan.Namespaces, cfg.DNSNames)
		prepareDNS(ctx, plan) // may apt-get install dnsperf, aardvark-dns: before the host snapshot
	}
	before := snapshotHost()
	for _, name := range before["ip netns"] {
		if name == plan.Host || strings.HasPrefix(name, targetPrefix) {
			return nil, fmt.Errorf("netns %s already exists: remove what an earlier run left with "+
				"`for n in $(ip netns list | awk '/^(bt-|plumb-bench-)/{print $1}'); do ip netns del $n; done`", name)
		}
	}
	rep := &Report{Meta: collectMeta(cfg), Plan: plan, Results: &Results{}}
	defer func() {
		// Whatever happened, put the host back and check it.
		rep.Meta.LoadEnd = loadAvg()
		cl.Run()
		rep.HostDiff = before.diff(snapshotHost())
	}()

	if plan.TmpDir, err = os.MkdirTemp("", "plumb-bench-"); err != nil {
		return nil, err
	}
	cl.Push(func() { _ = os.RemoveAll(plan.TmpDir) })
	plan.Results = filepath.Join(plan.TmpDir, "results.json")

	var names []string // every target name this run may have made, for /etc/netns
	cl.Push(func() { rep.HostNotes = append(rep.HostNotes, tidyEtcNetns(before, names)...) })
	if err := makeNamespaces(ctx, plan, cl, &names, rep); err != nil {
		return rep, err
	}

	runner := &Runner{Log: filepath.Join(plan.TmpDir, "supervisor.log")}
	base := &Series{Key: "base.netnsexec", Tool: "ip", Op: "`ip netns exec HOST true`"}
	for i := 0; i < baselineRuns && ctx.Err() == nil; i++ {
		s, err := runner.Run("", nil, "ip", "netns", "exec", plan.Host, "true")
		if err != nil {
			return rep, err
		}
		base.Samples = append(base.Samples, s)
	}

	cl.Push(func() {
		// In case the worker died before it could see to plumb's daemon;
		// before the namespaces go, as a live daemon would pin the host netns.
		if n := stopDaemon(plan.runDir(), plan.Plumb, 0); n != "" {
			rep.HostNotes = append(rep.HostNotes, n)
		}
		rep.HostNotes = append(rep.HostNotes, stopLeftAardvark(plan)...)
	})
	werr := runWorker(ctx, plan)
	if res, err := loadResults(plan.Results); err == nil {
		rep.Results = res
	} else if werr == nil {
		werr = fmt.Errorf("reading the worker's results: %w", err)
	}
	rep.Results.add(base)
	if ctx.Err() != nil {
		return rep, errors.New("interrupted")
	}
	return rep, werr
}

// makeNamespaces creates the host netns and the target namespaces, and
// registers their removal.
func makeNamespaces(ctx context.Context, plan *Plan, cl *Cleanup, names *[]string, rep *Report) error {
	if err := addNetns(plan.Host); err != nil {
		return err
	}
	cl.Push(func() {
		if err := delNetns(plan.Host); err != nil {
			logf("cleanup: %v", err)
		}
	})
	if _, err := sh("ip", "-n", plan.Host, "link", "set", "lo", "up"); err != nil {
		return err
	}
	if plan.NoIPv6 {
		if err := disableIPv6(plan.Host); err != nil {
			return err
		}
	}
	logf("creating %d target namespaces %s1..%s%d", plan.Namespaces, plan.Prefix, plan.Prefix, plan.Namespaces)
	t0 := time.Now()
	for i := 1; i <= plan.Namespaces; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := plan.target(i)
		*names = append(*names, name)
		if err := addNetns(name); err != nil {
			return err
		}
		cl.Push(func() {
			if err := delNetns(name); err != nil {
				logf("cleanup: %v", err)
			}
		})
		if plan.NoIPv6 {
			if err := disableIPv6(name); err != nil {
				return err
			}
		}
	}
	rep.SetupNote = fmt.Sprintf("setup (untimed in the tables): %d `ip netns add` took %.1f s", plan.Namespaces+1, time.Since(t0).Seconds())
	return nil
}

// runWorker starts this program again inside the host netns and waits for
// it. On a signal the worker is asked to stop (SIGTERM), and given time to
// remove what it made inside the host netns.
func runWorker(ctx context.Context, plan *Plan) error {
	planPath := filepath.Join(plan.TmpDir, "plan.json")
	if err := writeJSON(planPath, plan); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), envInNetns+"="+plan.Host, envPlan+"="+planPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Minute
	if err := startInNetns(plan.Host, cmd); err != nil {
		return fmt.Errorf("starting the worker in netns %s: %w", plan.Host, err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// cniMissing says why the CNI peer cannot run, or "" when it can.
func cniMissing(dir string) string {
	for _, p := range []string{"bridge", "host-local"} {
		if err := unix.Access(filepath.Join(dir, p), unix.X_OK); err != nil {
			return fmt.Sprintf("%s not found (%v): install it with `apt-get install -y containernetworking-plugins`", filepath.Join(dir, p), err)
		}
	}
	return ""
}

// writeFileAtomic writes path through a temporary file and a rename, so a
// reader sees the old report or the new one, never half of one.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
