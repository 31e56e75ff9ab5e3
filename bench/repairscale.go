package main

import (
	"context"
	"fmt"
	"time"
)

// The repair section at scale: repairNets networks of repairPerNet
// endpoints, the first endpoint of each publishing a port of its own.
const (
	repairNets     = 100
	repairPerNet   = 10
	repairHostPort = 21000 // + k: the port published by network k's first endpoint
	// repairScalePoll is the scale's poll interval: each poll sends up to
	// 100 requests, whose failed connections each leave a conntrack entry.
	repairScalePoll = 25 * time.Millisecond
	repairIdleAfter = 5 * time.Second // after the fill, before the idle window
)

func repairNetName(k int) string { return fmt.Sprintf("repair-%d", k+1) }
func repairSubnet(k int) string  { return fmt.Sprintf("10.234.%d.0/24", k) }

// repairWorld is the truth section's host, with a published port on each
// network's first endpoint.
var repairWorld = world{nets: repairNets, perNet: repairPerNet, name: repairNetName, subnet: repairSubnet,
	key: "repair.attach", op: fmt.Sprintf("attach netns:bt-i --net repair-k while filling %d networks with %d each (the first of each with -p)", repairNets, repairPerNet),
	extra: func(k, i int) []string {
		if publishes(i) {
			return []string{"-p", fmt.Sprintf("%d:%d", repairHostPort+k, repairPort)}
		}
		return nil
	}}

// publishes reports whether world target i publishes a port: the first
// of its network.
func publishes(i int) bool { return (i-1)%repairPerNet == 0 }

// IdleCPU is the daemon's CPU over a window in which nothing happens.
type IdleCPU struct {
	Networks  int           `json:"networks"`
	Endpoints int           `json:"endpoints"`
	Wall      time.Duration `json:"wall"`
	CPU       time.Duration `json:"cpu"` // utime+stime+cutime+cstime
	PID       int           `json:"pid"`
	Err       string        `json:"err,omitempty"`
}

// Pct is the share of one core the daemon used, in percent.
func (x *IdleCPU) Pct() float64 {
	if x == nil || x.Wall <= 0 {
		return 0
	}
	return 100 * x.CPU.Seconds() / x.Wall.Seconds()
}

// repairScale builds the world, reads the idle daemon's CPU, flushes the
// rules round by round until all its published ports answer again, then
// simulates reboots, and removes the world.
func (w *worker) repairScale(ctx context.Context) error {
	p, r := w.plan, w.repairResults()
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		w.res.note("repair: %s", n)
	}
	lan, err := w.lanClient()
	if err != nil {
		return err
	}
	var probes []probe
	for i := 1; i <= repairWorld.endpoints(); i++ {
		if !publishes(i) {
			continue
		}
		if err := w.serveIn(i); err != nil {
			return err
		}
		addr := fmt.Sprintf("%s:%d", lanHostAddr, repairHostPort+repairWorld.netOf(i))
		probes = append(probes, probe{"port " + addr, func() error { return lan.httpAnswers(addr) }})
	}
	if err := w.buildWorld(ctx, repairWorld); err != nil {
		return err
	}
	sleepCtx(ctx, repairIdleAfter) // the attaches' aftermath
	r.Idle = w.idleCPU(ctx, p.RepairIdle)

	flush := newDrift(w.res, r, "repair.scale.flush", "plumb daemon",
		fmt.Sprintf("`%s` in the host netns → all %d published ports answer the LAN client", flushScript, len(probes)),
		fmt.Sprintf("flush filter+nat → all %d published ports answer (%d networks, %d endpoints)", len(probes), repairNets, repairWorld.endpoints()),
		probes, w.flush)
	flush.poll = repairScalePoll
	logf("  repair-scale: %d flush rounds, at most %d a minute; each wait at most %v", p.RepairN, p.RepairPace, p.RepairBound)
	for j := 1; j <= p.RepairN && flush.active(); j++ {
		if err := flush.round(ctx, p, p.RepairBound, j); err != nil {
			return err
		}
		if j%10 == 0 {
			logf("  repair-scale: %d/%d rounds", j, p.RepairN)
		}
	}
	if err := w.reboots(ctx, probes); err != nil {
		return err
	}
	if err := w.removeWorld(repairWorld, "", ""); err != nil {
		r.note("repair-scale: removing the networks at the end: %v", err)
	}
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		w.res.note("repair: %s", n)
	}
	return nil
}

// idleCPU reads the daemon's CPU over a window of secs seconds in which
// the bench does nothing.
func (w *worker) idleCPU(ctx context.Context, secs int) *IdleCPU {
	x := &IdleCPU{Networks: repairNets, Endpoints: repairWorld.endpoints()}
	logf("  repair-scale: the idle daemon's CPU over %d s", secs)
	pid, cpu0 := daemonCPU(w.plan)
	t0 := time.Now()
	sleepCtx(ctx, time.Duration(secs)*time.Second)
	pid2, cpu1 := daemonCPU(w.plan)
	x.Wall, x.PID = time.Since(t0), pid
	switch {
	case pid == 0:
		x.Err = "no daemon runs (no pid file of the bench's plumb daemon)"
	case pid2 != pid:
		x.Err = fmt.Sprintf("the daemon changed during the window (pid %d, then %d)", pid, pid2)
	default:
		x.CPU = cpu1 - cpu0
	}
	return x
}
