package main

import (
	"context"
	"fmt"
	"path/filepath"
)

// floorRuns is how many times each kernel floor is timed.
const floorRuns = 20

// processRuns is how many times each process floor is timed: the target
// compares two of them, so they take turns, and more often.
const processRuns = 100

// floorBridge is the bridge the kernel-floor veths are plugged into.
const floorBridge = "bfloor0"

// processFloors times what any call costs before it does any work: a fork
// and exec of /bin/true; a Go hello world (the supervisor built it, as plumb
// is built); and plumb listing the endpoints of a state dir that holds no
// network (Go runtime start-up, package init, cobra, one readdir, JSON).
// They take turns, run by run, after two untimed rounds.
func (w *worker) processFloors(ctx context.Context) error {
	empty := filepath.Join(w.plan.TmpDir, "empty-state")
	type floor struct {
		s    *Series
		argv []string
	}
	floors := []floor{{w.res.add(&Series{Key: "floor.true", Tool: "process", Op: "/bin/true"}), []string{"/bin/true"}}}
	if w.plan.Hello != "" {
		floors = append(floors, floor{w.res.add(&Series{Key: "floor.hello", Tool: "process", Op: "Go hello world"}), []string{w.plan.Hello}})
	} else {
		w.res.peerMissing("hello", w.plan.HelloSkip)
	}
	floors = append(floors, floor{w.res.add(&Series{Key: "floor.plumb", Tool: "plumb", Op: "ps --format json, no networks"}),
		[]string{w.plan.Plumb, "--state-dir", empty, "ps", "--format", "json"}})
	for i := -1; i <= processRuns; i++ {
		for _, f := range floors {
			if err := ctx.Err(); err != nil {
				return err
			}
			x, err := w.run.Run("", nil, f.argv...)
			if err != nil {
				return err
			}
			if i >= 1 {
				f.s.Samples = append(f.s.Samples, x)
			}
		}
	}
	return nil
}

// kernelFloor times, with the ip binary, the kernel work attach and detach
// cannot avoid: creating a bridge-attached veth whose peer is in a target
// namespace, and deleting it; then, for comparison, deleting veths whose
// peer stayed in the host netns.
func (w *worker) kernelFloor(ctx context.Context) error {
	if _, err := sh("ip", "link", "add", floorBridge, "up", "type", "bridge"); err != nil {
		return err
	}
	w.cleanup.Push(func() { _, _ = sh("ip", "link", "del", floorBridge) })
	name := func(kind string, i int) string { return fmt.Sprintf("kf%s%d", kind, i) }

	add := w.res.add(&Series{Key: "floor.ipadd", Tool: "ip", Op: "ip link add vethX master BR up type veth peer name kf0 netns bt-i"})
	if err := repeat(ctx, add, 1, floorRuns, func(i int) (Sample, error) {
		return w.run.Run("", nil, "ip", "link", "add", name("n", i), "master", floorBridge, "up",
			"type", "veth", "peer", "name", "kf0", "netns", w.plan.target(i))
	}); err != nil {
		return err
	}
	del := w.res.add(&Series{Key: "floor.ipdel", Tool: "ip", Op: "ip link del vethX (peer in bt-i)"})
	if err := repeat(ctx, del, 1, floorRuns, func(i int) (Sample, error) {
		return w.run.Run("", nil, "ip", "link", "del", name("n", i))
	}); err != nil {
		return err
	}

	for i := 1; i <= floorRuns; i++ {
		if _, err := sh("ip", "link", "add", name("h", i), "master", floorBridge, "up",
			"type", "veth", "peer", "name", name("p", i)); err != nil {
			return err
		}
	}
	local := w.res.add(&Series{Key: "floor.ipdel.local", Tool: "ip", Op: "ip link del vethX (peer in the same netns)"})
	if err := repeat(ctx, local, 1, floorRuns, func(i int) (Sample, error) {
		return w.run.Run("", nil, "ip", "link", "del", name("h", i))
	}); err != nil {
		return err
	}
	_, err := sh("ip", "link", "del", floorBridge)
	return err
}
