package main

import (
	"context"
	"fmt"
)

// world is a host of many plumb networks with endpoints spread evenly over
// them, target i (from 1) on network (i-1)/perNet: the truth section's
// (ps and doctor at scale), the repair section's (the daemon at scale) and
// the see section's (inspect, explain, graph), which grows one world into
// a larger one.
type world struct {
	nets, perNet int
	from         int                // networks 0..from-1 and their targets exist already: buildWorld grows the world from there
	name         func(k int) string // the k-th network (from 0)
	subnet       func(k int) string
	key, op      string                  // the series of the fill's attaches
	extra        func(k, i int) []string // more attach arguments for target i on network k; nil: none
}

// endpoints is how many endpoints the world holds.
func (wd world) endpoints() int { return wd.nets * wd.perNet }

// netOf is the index of target i's network.
func (wd world) netOf(i int) int { return (i - 1) / wd.perNet }

// buildWorld creates the world's networks from wd.from on (their forced
// removal registered with the worker's cleanup) and attaches their targets
// to them, up to target endpoints, timing the attaches in the series wd.key.
func (w *worker) buildWorld(ctx context.Context, wd world) error {
	for k := wd.from; k < wd.nets; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := w.createNetwork(wd.name(k), wd.subnet(k)); err != nil {
			return err
		}
	}
	att := w.res.add(&Series{Key: wd.key, Tool: "plumb", Op: wd.op})
	return repeat(ctx, att, wd.from*wd.perNet+1, wd.endpoints(), func(i int) (Sample, error) {
		k := wd.netOf(i)
		args := []string{"attach", "netns:" + w.plan.target(i), "--net", wd.name(k)}
		if wd.extra != nil {
			args = append(args, wd.extra(k, i)...)
		}
		return w.plumb(args...)
	})
}

// removeWorld removes the world's networks with `network rm --force`,
// timing each in the series key (none when key is ""). A removal that
// fails is returned, after the others were tried.
func (w *worker) removeWorld(wd world, key, op string) error {
	var s *Series
	if key != "" {
		s = w.res.add(&Series{Key: key, Tool: "plumb", Op: op})
	}
	var first error
	for k := range wd.nets {
		x, err := w.plumb("network", "rm", "--force", wd.name(k))
		if err != nil {
			if first == nil {
				first = fmt.Errorf("network rm --force %s: %w", wd.name(k), err)
			}
			continue
		}
		if s != nil {
			s.Samples = append(s.Samples, x)
		}
	}
	return first
}
