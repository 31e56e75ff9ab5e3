package main

import (
	"context"
	"fmt"
)

// latencyLevels times attach and detach as the network fills, for every
// tool. At each level L each tool's network holds L-1 fill endpoints; then,
// Samples times, a fresh sample endpoint is attached (the L-th: timed) and
// detached again (timed), so every timed attach finds exactly L-1 endpoints
// there. The tools take turns sample by sample, the first of each round
// rotating, so that other work on the machine weighs on all of them alike.
// A peer that fails is dropped with a note and the others go on; plumb
// failing ends the step.
func (w *worker) latencyLevels(ctx context.Context) error {
	p := w.plan
	var tools []tool
	tools = append(tools, &plumbTool{w: w}, &plumbCtlTool{w: w})
	for _, x := range []struct {
		skip string
		t    func() tool
		key  string
	}{
		{p.CNISkip, func() tool { return newCNITool(w) }, "cni"},
		{p.NetavarkSkip, func() tool { return newNetavarkTool(w) }, "netavark"},
		{p.DockerSkip, func() tool { return newDockerTool(w) }, "docker"},
	} {
		if x.skip != "" {
			w.res.peerMissing(x.key, x.skip)
			logf("%s peer skipped: %s", x.key, x.skip)
			continue
		}
		tools = append(tools, x.t())
	}

	var active []tool
	drop := func(t tool, level int, err error) error {
		if t.key() == "plumb" || t.key() == "plumbctl" {
			return err
		}
		why := fmt.Sprintf("stopped at the %d-endpoint level: %v", level, err)
		if level == 0 {
			why = fmt.Sprintf("setup failed: %v", err)
		}
		w.res.peerMissing(t.key(), why)
		logf("%s peer %s", t.key(), why)
		if err := t.teardown(); err != nil {
			w.res.note("%s peer: teardown after its failure: %v", t.key(), err)
		}
		for i, a := range active {
			if a == t {
				active = append(active[:i:i], active[i+1:]...)
				break
			}
		}
		return nil
	}
	for _, t := range tools {
		active = append(active, t)
		if err := t.setup(ctx); err != nil {
			if err := drop(t, 0, err); err != nil {
				return err
			}
		}
	}

	for _, level := range p.Levels {
		logf("  level %d: filling to %d endpoints", level, level-1)
		for _, t := range append([]tool(nil), active...) {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := t.fillTo(ctx, level-1); err != nil {
				if err := drop(t, level, err); err != nil {
					return err
				}
			}
		}
		type pair struct{ att, det *Series }
		series := map[tool]pair{}
		for _, t := range active {
			a, d := t.ops()
			series[t] = pair{
				w.res.add(&Series{Key: latKey(t.key(), "attach", level), Tool: t.name(), Op: fmt.Sprintf("%s (%d there before)", a, level-1)}),
				w.res.add(&Series{Key: latKey(t.key(), "detach", level), Tool: t.name(), Op: fmt.Sprintf("%s (%d there)", d, level)}),
			}
		}
		for j := 1; j <= p.Samples; j++ {
			round := append([]tool(nil), active...)
			for k := range round {
				if err := ctx.Err(); err != nil {
					return err
				}
				t := round[(j+k)%len(round)]
				a, err := t.attach(j)
				if err == nil {
					var d Sample
					if d, err = t.detach(j); err == nil {
						series[t].att.Samples = append(series[t].att.Samples, a)
						series[t].det.Samples = append(series[t].det.Samples, d)
					}
				}
				if err != nil {
					if err := drop(t, level, err); err != nil {
						return err
					}
				}
			}
			if j%25 == 0 {
				logf("  level %d: %d/%d samples", level, j, p.Samples)
			}
		}
	}
	for _, t := range active {
		if err := t.teardown(); err != nil {
			if err := drop(t, p.maxLevel(), fmt.Errorf("teardown: %w", err)); err != nil {
				return err
			}
		}
	}
	return nil
}
