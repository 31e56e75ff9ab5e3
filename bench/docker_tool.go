package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
)

// dockerMemReserveKB is how much MemAvailable the Docker fill leaves to the
// rest of the machine: it stops (and says so) rather than go below it.
const dockerMemReserveKB = 4 << 20

// dockerTool is Docker in the level benchmark: `docker network connect` and
// `disconnect` of sample containers on a user-defined bridge network that
// fill containers (`docker run --network NET`) bring to each level. A
// container cannot be connected to a network while it has none
// (--network=none is exclusive), so the sample containers run on a second,
// "anchor" network and get the bench network as their eth1. The docker CLI
// talks to dockerd over its unix socket, so the worker can run it from its
// netns; dockerd does the work in the real host's.
type dockerTool struct {
	w          *worker
	run        *Runner
	net, anchr string
	filled     int
	mem0       int64 // MemAvailable before the first fill container
}

func newDockerTool(w *worker) *dockerTool {
	p := w.plan
	return &dockerTool{w: w, net: p.dockerName("lat"), anchr: p.dockerName("anchor"),
		run: &Runner{Log: filepath.Join(p.TmpDir, "docker.log")}}
}

func (t *dockerTool) key() string  { return "docker" }
func (t *dockerTool) name() string { return "Docker" }
func (t *dockerTool) ops() (string, string) {
	return "docker network connect NET C", "docker network disconnect NET C"
}

func (t *dockerTool) fill(i int) string   { return t.w.plan.dockerName(fmt.Sprintf("f%d", i)) }
func (t *dockerTool) sample(j int) string { return t.w.plan.dockerName(fmt.Sprintf("s%d", j)) }

// setup creates the bench and anchor networks and starts the sample
// containers on the anchor, 4 at a time (untimed).
func (t *dockerTool) setup(ctx context.Context) error {
	p := t.w.plan
	t.w.cleanup.Push(func() {
		if n, err := removeDockerObjects(p.labelled()); n > 0 || err != nil {
			logf("cleanup: removed %d Docker containers and networks (%v)", n, err)
		}
	})
	if err := createDockerNetwork(p, t.w.res, t.net, p.DockerSubnets[0]); err != nil {
		return err
	}
	if err := createDockerNetwork(p, t.w.res, t.anchr, p.DockerSubnets[1]); err != nil {
		return err
	}
	return t.start(ctx, p.Samples, t.sample, t.anchr)
}

// start runs containers name(1..n) on net, 4 at a time.
func (t *dockerTool) start(ctx context.Context, n int, name func(int) string, net string) error {
	var mu sync.Mutex
	var first error
	parallel(4, n, func(i int) {
		if ctx.Err() != nil {
			return
		}
		if _, err := runContainer(t.w.plan, name(i+1), net); err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		}
	})
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// fillTo starts fill containers on the bench network up to n, unless that
// would leave less than dockerMemReserveKB of MemAvailable, judged from
// what the containers started so far cost.
func (t *dockerTool) fillTo(ctx context.Context, n int) error {
	if n <= t.filled {
		return nil
	}
	now := memAvailable()
	if t.mem0 == 0 {
		t.mem0 = now
	}
	per := int64(20 << 10) // kB per container until measured
	if t.filled >= 20 {
		per = max(per/4, (t.mem0-now)/int64(t.filled))
	}
	if left := now - int64(n-t.filled)*per; left < dockerMemReserveKB {
		return fmt.Errorf("filling to %d containers would leave about %d MiB of MemAvailable (%d MiB now, about %d MiB per container): below the %d MiB the bench leaves to the machine",
			n, left>>10, now>>10, per>>10, dockerMemReserveKB>>10)
	}
	from := t.filled
	err := t.start(ctx, n-from, func(i int) string { return t.fill(from + i) }, t.net)
	t.filled = n
	return err
}

func (t *dockerTool) attach(j int) (Sample, error) {
	return t.run.Run("", nil, "docker", "network", "connect", t.net, t.sample(j))
}

func (t *dockerTool) detach(j int) (Sample, error) {
	return t.run.Run("", nil, "docker", "network", "disconnect", t.net, t.sample(j))
}

// teardown removes every container and network of the run.
func (t *dockerTool) teardown() error {
	if t.filled > 0 && t.mem0 > 0 {
		t.w.res.note("Docker peer: %d fill containers took about %d MiB of MemAvailable (%d kB each)",
			t.filled, (t.mem0-memAvailable())>>10, (t.mem0-memAvailable())/int64(t.filled))
	}
	_, err := removeDockerObjects(t.w.plan.labelled())
	t.filled = 0
	return err
}
