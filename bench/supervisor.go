package main

import (
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
		logf("WARNING: %d entries on the host name this run and are new since its start; see the report's host check", n)
	}
	complete := rep.Results.Error == "" && ctx.Err() == nil
	if complete {
		if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		rep.Charts = writeCharts(rep, filepath.Dir(cfg.Out))
	}
	text := rep.Markdown()
	fmt.Print(text)
	if !complete {
		logf("run incomplete: %s; %s and its charts left untouched", rep.Results.Error, cfg.Out)
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
		Config: cfg,
		Host:   fmt.Sprintf("%s%d", hostPrefix, os.Getpid()),
		Prefix: fmt.Sprintf("%s%d-", targetPrefix, os.Getpid()),
		Label:  fmt.Sprint(os.Getpid()),
	}
	plan.Namespaces = plumbNamespaces(plan)
	// apt-get installs, the image build and the sweep of killed runs'
	// Docker objects all happen before the host snapshot.
	setupNotes := preparePeers(ctx, plan)
	plan.Peers = peerNamespaces(plan)
	if cfg.DNS && cfg.runs("dns") {
		prepareDNS(ctx, plan) // may apt-get install dnsperf, aardvark-dns
	}
	if out, err := stdout("ip", "netns", "list"); err == nil {
		var names []string
		for _, l := range lines(out) {
			names = append(names, strings.Fields(l)[0])
		}
		if n := sweepStaleNetns(names); n != "" {
			setupNotes = append(setupNotes, n)
		}
	}
	before := snapshotHost()
	rep := &Report{Meta: collectMeta(plan), Plan: plan, Results: &Results{}, SetupNotes: setupNotes}
	defer func() {
		// Whatever happened, put the host back and check it.
		rep.Meta.LoadEnd = loadAvg()
		cl.Run()
		rep.HostDiff = before.diff(snapshotHost())
		rep.HostDiff.split(plan, rep.Results.DockerBridges)
	}()

	if plan.TmpDir, err = os.MkdirTemp("", "plumb-bench-"); err != nil {
		return nil, err
	}
	cl.Push(func() { _ = os.RemoveAll(plan.TmpDir) })
	plan.Results = filepath.Join(plan.TmpDir, "results.json")
	if plan.runs("floors") {
		var note string
		if plan.Hello, note, err = buildHello(ctx, plan.TmpDir, plan.Plumb); err != nil {
			plan.HelloSkip = err.Error()
			note = "process floor: no Go hello world: " + err.Error()
		}
		rep.SetupNotes = append(rep.SetupNotes, note)
	}
	if plan.runs("truth") {
		rep.SetupNotes = append(rep.SetupNotes, prepareBaseline(ctx, plan))
	}

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
	if plan.DockerSkip == "" {
		// After the data path's own cleanup, and if the worker died first.
		cl.Push(func() {
			if n, err := removeDockerObjects(plan.labelled()); n > 0 || err != nil {
				rep.HostNotes = append(rep.HostNotes, fmt.Sprintf("the bench removed %d Docker containers and networks of its own at the end (%v)", n, err))
			}
		})
	}
	werr := runWorker(ctx, plan)
	if res, err := loadResults(plan.Results); err == nil {
		rep.Results = res
	} else if werr == nil {
		werr = fmt.Errorf("reading the worker's results: %w", err)
	}
	rep.Results.add(base)
	if werr == nil && ctx.Err() == nil && plan.DNS && plan.runs("dns") {
		logf("dns: Docker's embedded DNS")
		werr = dockerDNS(ctx, plan, cl, rep.Results)
	}
	if werr == nil && ctx.Err() == nil && plan.runs("repair-docker") {
		logf("repair: docker restart → reachable")
		rep.Results.Loads = append(rep.Results.Loads, "repair-docker "+loadAvg())
		werr = repairDocker(ctx, plan, cl, rep.Results)
	}
	if werr == nil && ctx.Err() == nil && plan.runs("nft") {
		werr = nftSupervised(ctx, plan, cl, rep.Results)
	}
	if werr == nil && ctx.Err() == nil && plan.runs("ipv6") {
		logf("ipv6: data path over each family of one dual-stack network")
		rep.Results.Loads = append(rep.Results.Loads, "ipv6 data path "+loadAvg())
		werr = ipv6DataPath(ctx, plan, cl, rep.Results)
	}
	if werr == nil && ctx.Err() == nil && plan.runs("overlay") {
		logf("overlay: three hosts, a 3-member etcd, an agent each")
		rep.Results.Loads = append(rep.Results.Loads, "overlay "+loadAvg())
		werr = overlayBench(ctx, plan, cl, rep.Results)
	}
	if werr == nil && ctx.Err() == nil && plan.runs("datapath") {
		logf("data path")
		rep.Results.Loads = append(rep.Results.Loads, "data path "+loadAvg())
		werr = dataPath(ctx, plan, cl, rep.Results)
	}
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
	sets := []PeerNS{{Tool: "plumb", Host: plan.Host, Prefix: plan.Prefix, N: plan.Namespaces}}
	sets = append(sets, plan.Peers...)
	t0 := time.Now()
	total := 0
	for _, set := range sets {
		if set.Host != plan.Host {
			if err := addNetns(set.Host); err != nil {
				return err
			}
			cl.Push(func() {
				if err := delNetns(set.Host); err != nil {
					logf("cleanup: %v", err)
				}
			})
			if _, err := sh("ip", "-n", set.Host, "link", "set", "lo", "up"); err != nil {
				return err
			}
			if plan.NoIPv6 {
				if err := disableIPv6(set.Host); err != nil {
					return err
				}
			}
		}
		logf("creating %d target namespaces %s1..%s%d (%s)", set.N, set.Prefix, set.Prefix, set.N, set.Tool)
		for i := 1; i <= set.N; i++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			name := set.target(i)
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
		total += set.N + 1
	}
	rep.SetupNote = fmt.Sprintf("setup (untimed in the tables): %d `ip netns add` took %.1f s", total, time.Since(t0).Seconds())
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
