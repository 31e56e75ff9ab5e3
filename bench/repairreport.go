package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Targets of issue 14's bench section.
const (
	targetRepairP99 = time.Second // drift → answer again, p99
	targetIdlePct   = 1.0         // idle daemon, percent of a core, at repairNets / repairNets*repairPerNet
)

// variant is the repair variant with key, or nil.
func (r *RepairResults) variant(key string) *RepairVariant {
	if r == nil {
		return nil
	}
	for _, v := range r.Variants {
		if v.Key == key {
			return v
		}
	}
	return nil
}

// repairPct is the nearest-rank pct-th percentile of v's rounds, a miss
// counting as longer than any answer: ok is false when it falls on a miss
// (or there was no round).
func (r *Report) repairPct(v *RepairVariant, pct int) (time.Duration, bool) {
	if v == nil || v.Rounds == 0 {
		return 0, false
	}
	var walls []time.Duration
	if s := r.Results.get(v.Key); s != nil {
		for _, x := range s.Samples {
			walls = append(walls, x.Wall)
		}
	}
	slices.Sort(walls)
	rank := max((pct*v.Rounds+99)/100, 1)
	if rank > len(walls) {
		return 0, false
	}
	return walls[rank-1], true
}

// pctCell writes a percentile for the tables: "> 10 s (miss)" when it
// falls on a miss.
func (r *Report) pctCell(v *RepairVariant, pct int) string {
	if v == nil || v.Rounds == 0 {
		return "–"
	}
	if d, ok := r.repairPct(v, pct); ok {
		return ms(d)
	}
	return fmt.Sprintf("**> %s (miss)**", secs(r.Results.Repair.Bound))
}

// repairTargets writes the repair rows of the targets table.
func (r *Report) repairTargets(b *strings.Builder) {
	rr := r.Results.Repair
	eps := repairNets * repairPerNet
	for _, t := range []struct{ key, name string }{
		{"repair.one.flush", "drift repair p99 <= %[1]s: flush filter+nat → the published port answers again (1 network, 1 endpoint)"},
		{"repair.scale.flush", "same at %[2]d networks / %[3]d endpoints: every published port answers again"},
		{"repair.one.bridge", "drift repair p99 <= %[1]s: bridge deleted → the endpoint's gateway pings again"},
	} {
		name := fmt.Sprintf(t.name, secs(targetRepairP99), repairNets, eps)
		v := rr.variant(t.key)
		if v == nil || v.Rounds == 0 {
			why := "not measured"
			if v != nil && v.Stopped != "" {
				why = "not measured: " + shorten(v.Stopped, 200)
			}
			fmt.Fprintf(b, "| %s | %s | n/a |\n", name, why)
			continue
		}
		d, ok := r.repairPct(v, 99)
		got := fmt.Sprintf("%s (%d rounds, %d missed)", r.pctCell(v, 99), v.Rounds, v.Misses)
		fmt.Fprintf(b, "| %s | %s | %s |\n", name, got, verdict(ok && d <= targetRepairP99))
	}
	name := fmt.Sprintf("idle daemon < %.0f%% of a core at %d networks / %d endpoints", targetIdlePct, repairNets, eps)
	switch x := rrIdle(rr); {
	case x == nil:
		fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
	case x.Err != "":
		fmt.Fprintf(b, "| %s | not measured: %s | n/a |\n", name, shorten(x.Err, 200))
	default:
		fmt.Fprintf(b, "| %s | %.2f%% (%s of CPU over %.1f s) | %s |\n", name, x.Pct(), ms(x.CPU), x.Wall.Seconds(), verdict(x.Pct() < targetIdlePct))
	}
}

func rrIdle(rr *RepairResults) *IdleCPU {
	if rr == nil {
		return nil
	}
	return rr.Idle
}

// repairSection writes the repair section.
func (r *Report) repairSection(b *strings.Builder) {
	p, rr := r.Plan, r.Results.Repair
	if !p.runs("repair") {
		return
	}
	fmt.Fprintf(b, "\n## Repair: the daemon keeps the host true (issue 14)\n\n")
	if rr == nil {
		fmt.Fprintf(b, "Not run (the run stopped before it).\n")
		return
	}
	pace := fmt.Sprintf("at most %d drifts of one kind in any minute, so that the daemon's loop guard (the same drift "+
		"repaired more than 5 times a minute: back off) stays out of the figures", rr.Pace)
	if rr.Pace == 0 {
		pace = "back to back (-repair-pace 0): the daemon's loop guard may back off, and the figures then show it"
	}
	fmt.Fprintf(b, "In plumb's throwaway host netns, with the daemon plumb starts. Each round first waits until "+
		"everything answers, breaks something, and polls every %s (%s at scale; all probes at once) until everything "+
		"answers again: the time is from the end of the breaking command to the last answer. A probe answers when an "+
		"HTTP request gets an `HTTP/` reply (a connection alone is not enough: docker-proxy accepts one with nothing "+
		"behind it), or a ping its echo reply. A round not answered within %s is a **miss**, counted in the "+
		"percentiles as longer than any answer; the wait goes on for as long again to see when it does answer (late, "+
		"below). A kind stops when a round is not answered within twice the bound, or is not true before its drift. "+
		"Rounds run %s. The LAN client is a namespace joined to the host netns by a veth pair, reaching published "+
		"ports at %s; the listeners in the targets are the bench's own. The CPU column is the plumb daemon's "+
		"(user+sys, with the iptables children it waited for) from just before the drift to %s after the answer.\n\n",
		repairPoll, repairScalePoll, secs(rr.Bound), pace, lanHostAddr, secs(repairSettle))
	fmt.Fprintf(b, "| drift → what must answer | rounds | missed | p50 | p90 | p99 | max | daemon CPU p50 |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, v := range rr.Variants {
		m := r.Results.get(v.Key).Summarize()
		maxCell, cpu := "–", "–"
		if m.N > 0 {
			maxCell, cpu = ms(m.Max), ms(m.CPU50)
		}
		if v.Misses > 0 {
			maxCell = r.pctCell(v, 100)
		}
		if !strings.HasPrefix(v.Key, "repair.docker.plumb") && strings.HasPrefix(v.Key, "repair.docker") {
			cpu = "(not plumb's)"
		}
		fmt.Fprintf(b, "| %s | %d | %d | %s | %s | %s | %s | %s |\n", v.What, v.Rounds, v.Misses,
			r.pctCell(v, 50), r.pctCell(v, 90), r.pctCell(v, 99), maxCell, cpu)
	}
	var rows []row
	for _, s := range r.Results.Series {
		if strings.HasPrefix(s.Key, "repair.") && rr.variant(s.Key) == nil {
			rows = append(rows, seriesRow(s))
		}
	}
	if len(rows) > 0 {
		fmt.Fprintf(b, "\nEach probe's own first answer (in the rounds that were answered), the Docker rounds' other times, and the fill of the world:\n\n")
		table(b, rows)
	}
	r.repairNotes(b)
}

// repairNotes writes the idle CPU, the reboots and the notes of the section.
func (r *Report) repairNotes(b *strings.Builder) {
	rr := r.Results.Repair
	fmt.Fprintln(b)
	if x := rr.Idle; x != nil {
		fmt.Fprintf(b, "- The idle daemon at %d networks / %d endpoints (%d published ports), from %s after the fill: ", x.Networks, x.Endpoints, repairNets, secs(repairIdleAfter))
		if x.Err != "" {
			fmt.Fprintf(b, "not measured: %s.\n", x.Err)
		} else {
			fmt.Fprintf(b, "%s of CPU over %.1f s, **%.2f%% of a core** (pid %d; user+sys with waited-for children, from /proc/PID/stat).\n",
				ms(x.CPU), x.Wall.Seconds(), x.Pct(), x.PID)
		}
	}
	if len(rr.Boots) > 0 {
		fmt.Fprintf(b, "- Simulated reboots of %d endpoints (the daemon killed with SIGKILL, every bridge and host veth deleted, "+
			"filter and nat flushed, plumb's nftables table deleted, ip_forward 0, the run dir's socket and pid file removed; "+
			"the state dir and the target namespaces kept), then `plumb daemon --exit-when-idle` started as a boot would; "+
			"polled every 250 ms with `plumb ps --format json` and the published ports, for at most %s. The daemon's CPU "+
			"is its own from its start to the end of the wait, answering the polls' `plumb ps` included (ps asks it for "+
			"its listeners):\n\n", rr.BootN, secs(r.Plan.bootBound()))
		fmt.Fprintf(b, "| reboot | every endpoint up (ps) | every published port answers | up at the end | daemon CPU | links deleted | error |\n")
		fmt.Fprintf(b, "| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for i, x := range rr.Boots {
			fmt.Fprintf(b, "| %d | %s | %s | %d of %d | %s | %d | %s |\n", i+1, bootCell(x.Wall), bootCell(x.Ports),
				x.Up, x.Of, ms(x.CPU), x.Links, shorten(x.Err, 300))
		}
		fmt.Fprintln(b)
	}
	if rr.variant("repair.docker.plumb") != nil {
		fmt.Fprintf(b, "- Docker restarts: plumb re-attaches a restarted container when Docker's `start` event arrives, so "+
			"**the container's process has already started, with only `lo`, before plumb's interface appears**: an app that "+
			"connects or resolves names at start fails there, where Docker's own container has its network before its "+
			"process runs (sandboxes are the answer for such apps). Both containers run busybox httpd from their start; "+
			"`-t 0` kills at once, and the times run from the restart command's return (the event row: from Docker's "+
			"start event, read with `docker events`).\n")
	}
	for _, v := range rr.Variants {
		if len(v.Late) > 0 {
			fmt.Fprintf(b, "- %s: %d missed round%s answered late, after %s (daemon CPU %s).\n", v.Key, len(v.Late), plural(len(v.Late)),
				joinDurations(v.Late), joinDurations(v.LateCPU))
		}
		if v.Stopped != "" {
			fmt.Fprintf(b, "- %s: **stopped**: %s.\n", v.Key, v.Stopped)
		}
		for _, e := range v.Errs {
			fmt.Fprintf(b, "- %s: %s\n", v.Key, e)
		}
	}
	for k, why := range rr.Skips {
		fmt.Fprintf(b, "- %s not run: %s\n", k, why)
	}
	for _, n := range rr.Notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
}

// joinDurations writes ds as "1.20 ms, 14.1 s".
func joinDurations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, ms(d))
	}
	return strings.Join(parts, ", ")
}

// bootCell is a reboot's time, or a miss.
func bootCell(d time.Duration) string {
	if d == 0 {
		return "**not within the bound**"
	}
	return ms(d)
}
