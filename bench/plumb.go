package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// benchNet is the plumb network of the level benchmark, and its subnet. It
// lives inside the host netns only, so it can clash with nothing.
const (
	benchNet    = "bench"
	benchSubnet = "10.240.0.0/16"
)

// plumb runs plumb with the run's own state and run dirs and returns its
// timing. Equivalent to: `bin/plumb --state-dir TMPDIR/state --run-dir
// TMPDIR/run ARGS...`.
func (w *worker) plumb(args ...string) (Sample, error) {
	return w.run.Run("", nil, plumbArgv(w.plan, args...)...)
}

// plumbArgv is the command line of a plumb call with the run's state and run dirs.
func plumbArgv(p *Plan, args ...string) []string {
	return append([]string{p.Plumb,
		"--state-dir", filepath.Join(p.TmpDir, "state"),
		"--run-dir", p.runDir()}, args...)
}

// createNetwork creates a network with the extra flags of `network create`
// (a second --subnet, --ipv6, ...) and registers its forced removal (which
// also detaches whatever is still attached), returning the create's timing.
func (w *worker) createNetwork(name, subnet string, extra ...string) (Sample, error) {
	s, err := w.plumb(append([]string{"network", "create", name, "--subnet", subnet}, extra...)...)
	if err != nil {
		return s, err
	}
	w.cleanup.Push(func() {
		if _, err := w.plumb("network", "rm", "--force", name); err == nil {
			logf("cleanup: removed plumb network %s", name)
		}
	})
	return s, nil
}

// attachTo and detach time one plumb call on the i-th target namespace.
func (w *worker) attachTo(net string, i int) (Sample, error) {
	return w.plumb("attach", "netns:"+w.plan.target(i), "--net", net)
}

func (w *worker) detach(i int) (Sample, error) {
	return w.plumb("detach", "netns:"+w.plan.target(i))
}

// plumbTool is plumb in the level benchmark: `plumb attach netns:bt-i`
// and `plumb detach netns:bt-i` on one network, in the bench's host netns.
type plumbTool struct {
	w      *worker
	filled int
}

func (t *plumbTool) key() string  { return "plumb" }
func (t *plumbTool) name() string { return "plumb" }
func (t *plumbTool) ops() (string, string) {
	return "attach netns:bt-i --net " + benchNet, "detach netns:bt-i"
}

func (t *plumbTool) setup(ctx context.Context) error {
	s, err := t.w.createNetwork(benchNet, benchSubnet)
	if err != nil {
		return err
	}
	t.w.res.add(&Series{Key: "plumb.create", Tool: "plumb", Op: "network create (" + benchSubnet + ")"}).Samples = []Sample{s}
	return nil
}

// fillTo attaches fill targets 1..n; their timings go to the "fill.plumb"
// series, for the record.
func (t *plumbTool) fillTo(ctx context.Context, n int) error {
	s := t.w.res.series("fill.plumb", "plumb", "attach while filling the network")
	if err := repeat(ctx, s, t.filled+1, n, func(i int) (Sample, error) { return t.w.attachTo(benchNet, i) }); err != nil {
		return err
	}
	t.filled = max(t.filled, n)
	return nil
}

func (t *plumbTool) attach(j int) (Sample, error) {
	return t.w.attachTo(benchNet, t.w.plan.sampleBase()+j)
}

func (t *plumbTool) detach(j int) (Sample, error) { return t.w.detach(t.w.plan.sampleBase() + j) }

// teardown checks the count with `plumb ps`, then times the forced removal
// of the full network.
func (t *plumbTool) teardown() error {
	if _, err := t.w.plumb("ps", "--format", "json"); err != nil {
		return err
	}
	if n := countJSONArray(t.w.run.Output()); n != t.filled {
		return fmt.Errorf("plumb ps lists %d endpoints, want %d", n, t.filled)
	}
	rm, err := t.w.plumb("network", "rm", "--force", benchNet)
	if err != nil {
		return err
	}
	t.w.res.add(&Series{Key: "plumb.rm", Tool: "plumb", Op: fmt.Sprintf("network rm --force (%d endpoints)", t.filled)}).Samples = []Sample{rm}
	return nil
}

// ctlNet is the level benchmark's empty control network: the same sample
// namespaces are attached to it, in the same rounds, so that the ratio of
// plumb's attach at a level to the control's is immune to other work that
// comes and goes during the run.
const (
	ctlNet    = "bench-ctl"
	ctlSubnet = "10.238.0.0/16"
)

// plumbCtlTool is plumb attaching to the empty control network.
type plumbCtlTool struct{ w *worker }

func (t *plumbCtlTool) key() string  { return "plumbctl" }
func (t *plumbCtlTool) name() string { return "plumb, empty control network" }
func (t *plumbCtlTool) ops() (string, string) {
	return "attach netns:bt-i --net " + ctlNet, "detach netns:bt-i"
}

func (t *plumbCtlTool) setup(ctx context.Context) error {
	_, err := t.w.createNetwork(ctlNet, ctlSubnet)
	return err
}

func (t *plumbCtlTool) fillTo(ctx context.Context, n int) error { return nil }

func (t *plumbCtlTool) attach(j int) (Sample, error) {
	return t.w.attachTo(ctlNet, t.w.plan.sampleBase()+j)
}

func (t *plumbCtlTool) detach(j int) (Sample, error) { return t.w.detach(t.w.plan.sampleBase() + j) }

func (t *plumbCtlTool) teardown() error {
	_, err := t.w.plumb("network", "rm", ctlNet)
	return err
}
