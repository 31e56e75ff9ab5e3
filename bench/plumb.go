package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
)

// benchNet is the plumb network every plumb benchmark uses, and its subnet;
// ctlNet is the fill test's empty control network. Both live inside the
// host netns only, so they can clash with nothing.
const (
	benchNet    = "bench"
	benchSubnet = "10.240.0.0/16"
	ctlNet      = "bench-ctl"
	ctlSubnet   = "10.242.0.0/16"
)

// plumb runs plumb with the run's own state and run dirs and returns its
// timing. Equivalent to: `bin/plumb --state-dir TMPDIR/state --run-dir
// TMPDIR/run ARGS...`.
func (w *worker) plumb(args ...string) (Sample, error) {
	argv := append([]string{w.plan.Plumb,
		"--state-dir", filepath.Join(w.plan.TmpDir, "state"),
		"--run-dir", w.plan.runDir()}, args...)
	return w.run.Run("", nil, argv...)
}

// createNetwork creates a network and registers its forced removal (which
// also detaches whatever is still attached), returning the create's timing.
func (w *worker) createNetwork(name, subnet string) (Sample, error) {
	s, err := w.plumb("network", "create", name, "--subnet", subnet)
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

// attach and detach time one plumb call on the i-th target namespace.
func (w *worker) attach(i int) (Sample, error) { return w.attachTo(benchNet, i) }

func (w *worker) attachTo(net string, i int) (Sample, error) {
	return w.plumb("attach", "netns:"+w.plan.target(i), "--net", net)
}

func (w *worker) detach(i int) (Sample, error) {
	return w.plumb("detach", "netns:"+w.plan.target(i))
}

// plumbLatency attaches the first n target namespaces to an empty network
// one by one, then detaches them in the same order, timing every call.
func (w *worker) plumbLatency(ctx context.Context) error {
	s, err := w.createNetwork(benchNet, benchSubnet)
	if err != nil {
		return err
	}
	w.res.add(&Series{Key: "plumb.create", Tool: "plumb", Op: "network create (" + benchSubnet + ")"}).Samples = []Sample{s}
	n := w.plan.N
	att := w.res.add(&Series{Key: "plumb.attach", Tool: "plumb", Op: "attach netns:bt-i --net " + benchNet})
	if err := repeat(ctx, att, 1, n, w.attach); err != nil {
		return err
	}
	det := w.res.add(&Series{Key: "plumb.detach", Tool: "plumb", Op: "detach netns:bt-i"})
	return repeat(ctx, det, 1, n, w.detach)
}

// plumbFill fills the (again empty) network. The first fillSample attaches
// are the "at 1" sample; the attaches up to the fill level are timed in
// buckets. The "at fill" sample then keeps the network at exactly Fill
// endpoints: each of fillSample fresh namespaces is attached (timed: Fill
// endpoints already there) and detached again (timed too). Stacking
// fillSample more on top is not possible near 1000: a Linux bridge holds at
// most maxBridgePorts ports. Interleaved with those, the same namespace is
// attached to an empty control network and detached: the control sees the
// same machine at the same moments, so the full/control ratio is immune to
// other work that comes and goes during the run. Last, it checks the count
// with `plumb ps` and times the forced removal of the full network.
func (w *worker) plumbFill(ctx context.Context) error {
	p := w.plan
	first := w.res.add(&Series{Key: "fill.first", Tool: "plumb", Op: fmt.Sprintf("attach #1-#%d (0-%d endpoints there)", fillSample, fillSample-1)})
	if err := repeat(ctx, first, 1, fillSample, w.attach); err != nil {
		return err
	}
	bucket := 100
	if p.Fill < 500 {
		bucket = 50
	}
	for from := fillSample + 1; from <= p.Fill; from += bucket {
		to := min(from+bucket-1, p.Fill)
		s := w.res.add(&Series{Key: "fill.bucket", Tool: "plumb", Op: fmt.Sprintf("attach #%d-#%d", from, to)})
		if err := repeat(ctx, s, from, to, w.attach); err != nil {
			return err
		}
	}

	if _, err := w.createNetwork(ctlNet, ctlSubnet); err != nil {
		return err
	}
	last := w.res.add(&Series{Key: "fill.last", Tool: "plumb", Op: fmt.Sprintf("attach with %d endpoints there, then detach", p.Fill)})
	ctl := w.res.add(&Series{Key: "fill.ctl", Tool: "plumb", Op: "control: attach to an empty network, interleaved with the row above"})
	det := w.res.add(&Series{Key: "fill.detach", Tool: "plumb", Op: fmt.Sprintf("detach with %d endpoints there", p.Fill+1)})
	if err := repeat(ctx, last, p.Fill+1, p.Fill+fillSample, func(i int) (Sample, error) {
		a, err := w.attach(i)
		if err != nil {
			return a, err
		}
		d, err := w.detach(i)
		if err != nil {
			return a, err
		}
		det.Samples = append(det.Samples, d)
		c, err := w.attachTo(ctlNet, i)
		if err != nil {
			return a, err
		}
		ctl.Samples = append(ctl.Samples, c)
		_, err = w.detach(i)
		return a, err
	}); err != nil {
		return err
	}
	if _, err := w.plumb("network", "rm", ctlNet); err != nil {
		return err
	}

	ps := w.res.add(&Series{Key: "fill.ps", Tool: "plumb", Op: fmt.Sprintf("ps --format json (%d endpoints)", p.Fill)})
	if err := repeat(ctx, ps, 1, 10, func(int) (Sample, error) { return w.plumb("ps", "--format", "json") }); err != nil {
		return err
	}
	var eps []json.RawMessage
	if err := json.Unmarshal([]byte(w.run.Output()), &eps); err != nil {
		return fmt.Errorf("reading plumb ps --format json: %w", err)
	}
	if len(eps) != p.Fill {
		return fmt.Errorf("plumb ps lists %d endpoints, want %d", len(eps), p.Fill)
	}
	w.res.note("fill: `plumb ps --format json` listed all %d endpoints; the at-%d sample attached and detached %d fresh namespaces one at a time, so each timed attach found exactly %d endpoints (a Linux bridge holds at most %d ports)", len(eps), p.Fill, fillSample, p.Fill, maxBridgePorts)

	rm, err := w.plumb("network", "rm", "--force", benchNet)
	if err != nil {
		return err
	}
	w.res.add(&Series{Key: "fill.rm", Tool: "plumb", Op: fmt.Sprintf("network rm --force (%d endpoints)", p.Fill)}).Samples = []Sample{rm}
	return nil
}
