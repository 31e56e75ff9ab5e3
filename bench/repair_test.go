package main

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// repairFake adds made-up repair results to a fake report: a variant with
// one miss in 10 rounds, one with none, the idle CPU and a reboot.
func repairFake() *Report {
	r := fakeReport()
	res := r.Results
	rr := &RepairResults{Bound: 10 * time.Second, Pace: 5, Skips: map[string]string{}, BootN: 1000}
	res.Repair = rr
	add := func(key, what string, rounds, misses int, base time.Duration) {
		rr.Variants = append(rr.Variants, &RepairVariant{Key: key, What: what, Rounds: rounds, Misses: misses})
		s := res.add(&Series{Key: key, Tool: "plumb daemon", Op: what})
		for i := range rounds - misses {
			s.Samples = append(s.Samples, Sample{Wall: base + time.Duration(i)*time.Millisecond, CPU: 20 * time.Millisecond})
		}
	}
	add("repair.one.flush", "flush → port", 10, 1, 100*time.Millisecond)
	add("repair.scale.flush", "flush at scale → ports", 100, 1, 400*time.Millisecond)
	add("repair.one.bridge", "bridge → ping", 5, 0, 50*time.Millisecond)
	rr.Variants[0].Late, rr.Variants[0].LateCPU = []time.Duration{12 * time.Second}, []time.Duration{2 * time.Second}
	rr.Idle = &IdleCPU{Networks: 100, Endpoints: 1000, Wall: 60 * time.Second, CPU: 300 * time.Millisecond, PID: 42}
	rr.Boots = []BootRun{{Wall: 4 * time.Second, Ports: 3 * time.Second, Up: 1000, Of: 1000, CPU: time.Second, Links: 1100}}
	r.Plan.Only = []string{"repair"}
	return r
}

// TestRepairPct: a miss counts as longer than every answer, so that a
// percentile falling on one is a miss, not the longest answer.
func TestRepairPct(t *testing.T) {
	r := repairFake()
	rr := r.Results.Repair
	one, scale := rr.variant("repair.one.flush"), rr.variant("repair.scale.flush")
	if d, ok := r.repairPct(one, 50); !ok || d != 104*time.Millisecond {
		t.Errorf("p50 of 9 answers and 1 miss = %v, %v; want 104ms", d, ok)
	}
	if _, ok := r.repairPct(one, 90); !ok {
		t.Error("p90 of 9 answers in 10 rounds falls on a miss")
	}
	if _, ok := r.repairPct(one, 99); ok {
		t.Error("p99 of 9 answers in 10 rounds does not fall on the miss")
	}
	if d, ok := r.repairPct(scale, 99); !ok || d != 498*time.Millisecond {
		t.Errorf("p99 of 99 answers in 100 rounds = %v, %v; want the last answer, 498ms", d, ok)
	}
	if _, ok := r.repairPct(scale, 100); ok {
		t.Error("the max of rounds with a miss is an answer")
	}
	if _, ok := r.repairPct(&RepairVariant{Key: "none"}, 50); ok {
		t.Error("a variant without rounds has a percentile")
	}
}

func TestRepairReport(t *testing.T) {
	md := repairFake().Markdown()
	for _, want := range []string{
		"| drift repair p99 <= 1 s: flush filter+nat → the published port answers again (1 network, 1 endpoint) | **> 10 s (miss)** (10 rounds, 1 missed) | MISS |",
		"| same at 100 networks / 1000 endpoints: every published port answers again | 498.00 ms (100 rounds, 1 missed) | PASS |",
		"| drift repair p99 <= 1 s: bridge deleted → the endpoint's gateway pings again | 54.00 ms (5 rounds, 0 missed) | PASS |",
		"| idle daemon < 1% of a core at 100 networks / 1000 endpoints | 0.50% (300.00 ms of CPU over 60.0 s) | PASS |",
		"| flush → port | 10 | 1 | 104.00 ms | 108.00 ms | **> 10 s (miss)** | **> 10 s (miss)** | 20.00 ms |",
		"| 1 | 4000.00 ms | 3000.00 ms | 1000 of 1000 | 1000.00 ms | 1100 |  |",
		"- repair.one.flush: 1 missed round answered late, after 12.0 s (daemon CPU 2000.00 ms).",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestParseConfigRepair(t *testing.T) {
	t.Setenv("BENCH_QUICK", "1")
	c, err := parseConfig([]string{"-only", "repair-one,repair-docker"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.runs("repair") || !c.runs("repair-one") || c.runs("repair-scale") || !c.runs("repair-docker") || c.runs("truth") ||
		c.RepairN != 5 || c.RepairIdle != 10 || c.Out != "bench/results/REPORT-repair-one-repair-docker.md" {
		t.Errorf("-only repair-one,repair-docker with BENCH_QUICK=1: %+v", c)
	}
	if c, _ := parseConfig([]string{"-only", "repair"}); !c.runs("repair-scale") || !c.runs("repair-one") || c.runs("dns") {
		t.Errorf("-only repair does not run every part: %+v", c)
	}
	for _, args := range [][]string{{"-only", "repair-two"}, {"-repair-n", "0"}, {"-repair-bound", "1ms"}} {
		if _, err := parseConfig(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// TestICMPChecksum: a message carrying its checksum sums to zero.
func TestICMPChecksum(t *testing.T) {
	for _, msg := range [][]byte{
		{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'l', 'u', 'm', 'b'},
		{8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
	} {
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		if c := icmpChecksum(msg); c != 0 {
			t.Errorf("checksum of %x with its checksum = %#x, want 0", msg, c)
		}
	}
}

// TestDriftRound plays rounds against a fake repairer: repaired within the
// bound (a sample), after it (a miss, answered late), never (a miss, and
// the kind stops).
func TestDriftRound(t *testing.T) {
	const bound = 100 * time.Millisecond
	var mu sync.Mutex
	broken := false
	var repairIn time.Duration // < 0: never
	probes := []probe{{"fake", func() error {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return errors.New("broken")
		}
		return nil
	}}}
	drift := func() error {
		mu.Lock()
		broken = true
		mu.Unlock()
		if repairIn >= 0 {
			time.AfterFunc(repairIn, func() { mu.Lock(); broken = false; mu.Unlock() })
		}
		return nil
	}
	res, rr := &Results{}, &RepairResults{Bound: bound}
	d := newDrift(res, rr, "repair.test", "fake", "what", "op", probes, drift)
	d.cpu, d.settle, d.poll = false, time.Millisecond, time.Millisecond
	p := &Plan{}
	for j, in := range []time.Duration{20 * time.Millisecond, 150 * time.Millisecond, -1} {
		repairIn = in
		if err := d.round(context.Background(), p, bound, j+1); err != nil {
			t.Fatal(err)
		}
	}
	v, s := d.v, res.get("repair.test")
	if v.Rounds != 3 || v.Misses != 2 || len(s.Samples) != 1 || len(v.Late) != 1 ||
		s.Samples[0].Wall < 10*time.Millisecond || s.Samples[0].Wall > bound ||
		v.Late[0] < 150*time.Millisecond || v.Late[0] > 2*bound || !strings.Contains(v.Stopped, "round 3:") {
		t.Errorf("rounds %d, misses %d, samples %+v, late %v, stopped %q", v.Rounds, v.Misses, s.Samples, v.Late, v.Stopped)
	}
	if d.active() {
		t.Error("a kind whose drift nothing repairs is still active")
	}
}
