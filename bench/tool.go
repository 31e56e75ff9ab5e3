package main

import (
	"context"
	"fmt"
)

// tool is one way of putting an endpoint on a bridge network and taking it
// off again: plumb, the CNI reference plugins, netavark, Docker. The level
// benchmark drives every tool the same way: fill its network to L-1
// endpoints, then time the attach of a fresh sample endpoint (the L-th) and
// its detach, Samples times, interleaved with the other tools.
type tool interface {
	// key names the tool in series keys ("plumb", "cni", "netavark", "docker").
	key() string
	// name is the tool's label in the tables.
	name() string
	// ops names what attach and detach run, for the tables.
	ops() (attach, detach string)
	// setup creates the tool's network and registers its removal with the
	// worker's cleanup.
	setup(ctx context.Context) error
	// fillTo brings the network to n fill endpoints (never fewer than it has).
	fillTo(ctx context.Context, n int) error
	// attach and detach time one call on sample endpoint j, from 1.
	attach(j int) (Sample, error)
	detach(j int) (Sample, error)
	// teardown removes every endpoint and the network.
	teardown() error
}

// Series keys of the level benchmark.
func latKey(tool, op string, level int) string {
	return fmt.Sprintf("lat.%s.%s.%d", tool, op, level)
}
