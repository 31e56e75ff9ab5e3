package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The repair section (issue 14): the daemon keeps the host true. It breaks
// what plumb set up, the way a firewall reload, a careless admin or a
// reboot does, and times how long until what a user sees works again:
// a published port answers, a gateway pings, every endpoint is up. Nothing
// here repairs anything itself: a daemon that does not repair shows as
// misses, each wait bounded by -repair-bound.
//
//   - repair-one: one network, one endpoint publishing a port (repairone.go):
//     flush filter and nat, and delete the bridge;
//   - repair-scale: 100 networks / 1000 endpoints (repairscale.go): the idle
//     daemon's CPU, the flush, and a simulated reboot;
//   - repair-docker: `docker restart` of a container attached by plumb,
//     against one on a Docker bridge network (repairdocker.go, the
//     supervisor's: Docker works in the real host's netns).

// flushScript is the flush, what a firewall reload or a careless
// admin does. It runs inside the bench's host netns only.
const flushScript = "iptables -F; iptables -X; iptables -t nat -F; iptables -t nat -X"

const (
	repairPoll   = 5 * time.Millisecond // between two polls of the probes
	repairSettle = time.Second          // after the answer, before the next round: the daemon's CPU is read then
	repairPort   = 80                   // the port each publishing target listens on
)

// RepairResults is what the repair section found besides its series.
type RepairResults struct {
	Bound    time.Duration     `json:"bound"` // the longest wait for an answer
	Pace     int               `json:"pace"`  // at most this many drifts of one kind a minute (0: no limit)
	Variants []*RepairVariant  `json:"variants"`
	Idle     *IdleCPU          `json:"idle,omitempty"`
	Boots    []BootRun         `json:"boots,omitempty"`
	BootN    int               `json:"boot_n"` // endpoints the reboot simulation wants back
	Docker   []*RepairVariant  `json:"docker,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
	Skips    map[string]string `json:"skips,omitempty"` // part -> why it did not run
}

// RepairVariant is one kind of drift, repeated round by round. Its series
// (Key) holds the rounds that were answered in time: Wall from the drift's
// end to the last probe's answer, CPU the daemon's over that time and
// repairSettle more. With 2 to 4 probes, each probe's own first answers
// are in Key.N, N the probe's index.
type RepairVariant struct {
	Key    string   `json:"key"`
	What   string   `json:"what"`   // the drift, and what must answer, for the report
	Probes []string `json:"probes"` // probe names, the suffixes of their series keys
	Rounds int      `json:"rounds"` // drifts made
	Misses int      `json:"misses"` // rounds not answered within the bound
	// Late is when the missed rounds did answer, within twice the bound,
	// and LateCPU the daemon's CPU in them.
	Late    []time.Duration `json:"late,omitempty"`
	LateCPU []time.Duration `json:"late_cpu,omitempty"`
	Stopped string          `json:"stopped,omitempty"`
	Errs    []string        `json:"errs,omitempty"` // the first few failed drift commands or CPU readings
}

// note records a line for the repair section.
func (r *RepairResults) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// probe is one thing that must answer after a drift.
type probe struct {
	name string
	fn   func() error
}

// driftRun is a variant at run time.
type driftRun struct {
	v      *RepairVariant
	all    *Series   // every probe answered
	per    []*Series // each probe; nil with a single probe
	probes []probe
	drift  func() error // breaks something; returns once it is broken
	pace   pacer
	last   []time.Duration // the last wait's answers
	cpu    bool            // read the plumb daemon's CPU over each round
	poll   time.Duration   // between two polls; 0: repairPoll
	settle time.Duration   // after an answer; 0: repairSettle
	// answered, when set, is told when a round's last probe answered.
	answered func(at time.Time)
}

// newDrift registers a variant and its series, in res and r.
func newDrift(res *Results, r *RepairResults, key, tool, what, op string, probes []probe, drift func() error) *driftRun {
	d := &driftRun{v: &RepairVariant{Key: key, What: what}, probes: probes, drift: drift, pace: pacer{perMin: r.Pace}, cpu: true}
	r.Variants = append(r.Variants, d.v)
	d.all = res.add(&Series{Key: key, Tool: tool, Op: op})
	for i, p := range probes {
		d.v.Probes = append(d.v.Probes, p.name)
		if len(probes) > 1 && len(probes) <= 4 {
			d.per = append(d.per, res.add(&Series{Key: fmt.Sprintf("%s.%d", key, i), Tool: tool, Op: p.name + " answers"}))
		}
	}
	return d
}

// active reports whether the variant still runs rounds.
func (d *driftRun) active() bool { return d.v.Stopped == "" }

// round runs one round: it waits until every probe answers (the host is
// true before the drift), drifts, and waits for every probe to answer
// again, at most bound. A round not answered by then is a miss; the wait
// goes on for another bound, to see when it does answer (late), and the
// variant stops when it does not: nothing repairs that drift.
func (d *driftRun) round(ctx context.Context, p *Plan, bound time.Duration, j int) error {
	if _, ok := d.wait(ctx, time.Now(), bound, nil); !ok {
		d.v.Stopped = fmt.Sprintf("before round %d, %s did not answer within %s", j, d.silent(), secs(bound))
		return ctx.Err()
	}
	if err := d.pace.wait(ctx); err != nil {
		return err
	}
	pid, cpu0 := daemonCPU(p)
	if err := d.drift(); err != nil {
		d.v.Stopped = fmt.Sprintf("round %d: the drift failed: %v", j, err)
		return nil
	}
	d.v.Rounds++
	t0 := time.Now()
	times, ok := d.wait(ctx, t0, bound, nil)
	missed := !ok
	if missed {
		d.v.Misses++
		logf("  %s: round %d: %s did not answer within %s", d.v.Key, j, d.silent(), secs(bound))
		if times, ok = d.wait(ctx, t0, 2*bound, times); !ok {
			d.v.Stopped = fmt.Sprintf("round %d: %s did not answer within %s of the drift: nothing repaired it; the remaining rounds were not run",
				j, d.silent(), secs(2*bound))
			return ctx.Err()
		}
	}
	if d.answered != nil {
		d.answered(t0.Add(slices.Max(times)))
	}
	sleepCtx(ctx, cmp.Or(d.settle, repairSettle))
	cpu, err := d.cpuSince(p, pid, cpu0)
	if err != nil && len(d.v.Errs) < 3 {
		d.v.Errs = append(d.v.Errs, fmt.Sprintf("round %d: %v", j, err))
	}
	if missed { // answered late: no sample, the miss counts
		d.v.Late = append(d.v.Late, slices.Max(times))
		d.v.LateCPU = append(d.v.LateCPU, cpu)
		return ctx.Err()
	}
	d.all.Samples = append(d.all.Samples, Sample{Wall: slices.Max(times), CPU: cpu})
	for i, x := range d.per {
		x.Samples = append(x.Samples, Sample{Wall: times[i]})
	}
	return ctx.Err()
}

// cpuSince is the daemon's CPU since cpu0 was read of pid, when the
// variant reads it.
func (d *driftRun) cpuSince(p *Plan, pid int, cpu0 time.Duration) (time.Duration, error) {
	if !d.cpu {
		return 0, nil
	}
	pid2, cpu1 := daemonCPU(p)
	if pid == 0 || pid2 != pid {
		return 0, fmt.Errorf("no daemon CPU: the daemon's pid was %d before the drift and %d after", pid, pid2)
	}
	return cpu1 - cpu0, nil
}

// wait polls the probes that have not answered yet (times[i] == 0; times
// nil: none has), all at once, every d.poll (repairPoll when 0), until
// each has answered once or until is past since t0. It returns each
// probe's time from t0 to its first answer (0: none).
func (d *driftRun) wait(ctx context.Context, t0 time.Time, until time.Duration, times []time.Duration) ([]time.Duration, bool) {
	if times == nil {
		times = make([]time.Duration, len(d.probes))
	}
	poll := cmp.Or(d.poll, repairPoll)
	for {
		var wg sync.WaitGroup
		for i, p := range d.probes {
			if times[i] == 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if p.fn() == nil {
						times[i] = max(time.Since(t0), time.Nanosecond)
					}
				}()
			}
		}
		wg.Wait()
		d.last = times
		if !slices.Contains(times, 0) {
			return times, true
		}
		if time.Since(t0) > until || ctx.Err() != nil {
			return times, false
		}
		sleepCtx(ctx, poll)
	}
}

// silent names the probes of the last wait that did not answer.
func (d *driftRun) silent() string {
	var names []string
	for i, p := range d.probes {
		if i >= len(d.last) || d.last[i] == 0 {
			names = append(names, p.name)
		}
	}
	if len(names) > 3 {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
	}
	return strings.Join(names, ", ")
}

// pacer keeps drifts of one kind to perMin in any minute: the daemon's loop
// guard backs off from the same drift repaired more than 5 times a minute,
// and the rounds measure the repair, not the back-off.
type pacer struct {
	perMin int
	starts []time.Time
}

func (pc *pacer) wait(ctx context.Context) error {
	if n := len(pc.starts); pc.perMin > 0 && n >= pc.perMin {
		sleepCtx(ctx, time.Until(pc.starts[n-pc.perMin].Add(time.Minute+2*time.Second)))
	}
	pc.starts = append(pc.starts, time.Now())
	return ctx.Err()
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// daemonCPU is the pid of the run's plumb daemon (dns.go's daemonPID: its
// pid file, checked against its command line; 0 when none runs) and the CPU
// time it and the children it has waited for (iptables-save,
// iptables-restore) have used.
func daemonCPU(p *Plan) (int, time.Duration) {
	pid, err := daemonPID(p.runDir(), p.Plumb)
	if err != nil {
		return 0, 0
	}
	return pid, procCPUAll(pid)
}

// procCPUAll is utime+stime+cutime+cstime of pid, from /proc/PID/stat.
func procCPUAll(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3: utime is field 14 … cstime 17
	if len(f) < 15 {
		return 0
	}
	var ticks int64
	for _, x := range f[11:15] {
		n, _ := strconv.ParseInt(x, 10, 64)
		ticks += n
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / clkTck
}
