package main

import (
	"fmt"
	"strings"
	"time"
)

// Targets from the issues: the first two from the core issue (absolute,
// on an empty network), the rest from the benchmark issue (ratios in one run),
// the published-port issue and the start-up issue (plumb ps / hello world).
const (
	targetAttachP50     = 7 * time.Millisecond
	targetDetachP50     = 10 * time.Millisecond
	targetAttachVsPeer  = 0.2  // plumb attach p50 at 1 endpoint / CNI ADD, netavark setup
	targetFillRatio     = 1.2  // attach p50 at 1000 / at 1
	targetDetachVsCNI   = 0.15 // detach p50 / CNI DEL
	targetBurstVsCNI    = 0.3  // burst wall time / CNI's
	targetC2CVsDocker   = 0.97 // container-to-container throughput / Docker bridge
	targetPortVsDocker  = 1.5  // published port throughput and request rate / docker run -p
	targetPortAttachAdd = 5 * time.Millisecond
	targetPsVsHello     = 1.5 // plumb ps floor p50 / Go hello world floor p50
	targetFillLevel     = 1000
)

// levelTools are the tools of the level tables, in table order.
var levelTools = []string{"plumb", "plumbctl", "cni", "netavark", "docker"}

// p50 is the median wall time of the series with key, and whether there is one.
func (r *Report) p50(key string) (time.Duration, bool) {
	s := r.Results.get(key)
	if s == nil || len(s.Samples) == 0 {
		return 0, false
	}
	return s.Summarize().P50, true
}

// targets writes the PASS/MISS table of the issues' targets.
func (r *Report) targets(b *strings.Builder) {
	p := r.Plan
	fmt.Fprintf(b, "\n## Targets\n\n| target | measured | result |\n| --- | --- | --- |\n")
	na := func(name, why string) { fmt.Fprintf(b, "| %s | %s | n/a |\n", name, why) }
	first := p.Levels[0]
	abs := func(name, key string, limit time.Duration) {
		if x, ok := r.p50(key); ok {
			fmt.Fprintf(b, "| %s | %s | %s |\n", name, ms(x), verdict(x <= limit))
		} else {
			na(name, "not measured")
		}
	}
	// ratio writes a row comparing the p50s of keys a and b against limit;
	// atMost says which side of it passes.
	ratio := func(name, a, bkey string, limit float64, atMost bool) {
		x, ok1 := r.p50(a)
		y, ok2 := r.p50(bkey)
		if !ok1 || !ok2 {
			why := "not measured"
			if t := strings.Split(bkey, "."); len(t) > 1 && r.Results.Peers[t[1]] != "" {
				why = toolLabel(t[1]) + " not measured: " + r.Results.Peers[t[1]]
			}
			na(name, why)
			return
		}
		q := float64(x) / float64(y)
		ok := q <= limit
		if !atMost {
			ok = q >= limit
		}
		fmt.Fprintf(b, "| %s | %.2f (%s / %s) | %s |\n", name, q, ms(x), ms(y), verdict(ok))
	}
	abs(fmt.Sprintf("plumb attach p50 <= %s (at %d endpoint)", ms(targetAttachP50), first), latKey("plumb", "attach", first), targetAttachP50)
	abs(fmt.Sprintf("plumb detach p50 <= %s (at %d endpoint)", ms(targetDetachP50), first), latKey("plumb", "detach", first), targetDetachP50)
	ratio(fmt.Sprintf("attach p50 at %d endpoint <= %.1fx CNI reference ADD", first, targetAttachVsPeer),
		latKey("plumb", "attach", first), latKey("cni", "attach", first), targetAttachVsPeer, true)
	ratio(fmt.Sprintf("attach p50 at %d endpoint <= %.1fx netavark setup", first, targetAttachVsPeer),
		latKey("plumb", "attach", first), latKey("netavark", "attach", first), targetAttachVsPeer, true)
	top := p.maxLevel()
	short := ""
	if top < targetFillLevel {
		short = fmt.Sprintf(" (a short run: %d, not %d)", top, targetFillLevel)
	}
	if top > first {
		ratio(fmt.Sprintf("attach p50 at %d / at %d <= %.1f%s", top, first, targetFillRatio, short),
			latKey("plumb", "attach", top), latKey("plumb", "attach", first), targetFillRatio, true)
		ratio(fmt.Sprintf("same, against the empty control network at the same moments (robust to other load) <= %.1f", targetFillRatio),
			latKey("plumb", "attach", top), latKey("plumbctl", "attach", top), targetFillRatio, true)
	}
	ratio(fmt.Sprintf("detach p50 at %d endpoint <= %.2fx CNI reference DEL", first, targetDetachVsCNI),
		latKey("plumb", "detach", first), latKey("cni", "detach", first), targetDetachVsCNI, true)
	ratio(fmt.Sprintf("plumb ps floor p50 <= %.1fx Go hello world floor (start-up, interleaved)", targetPsVsHello),
		"floor.plumb", "floor.hello", targetPsVsHello, true)
	r.burstTargets(b)
	r.cniTargets(b)
	r.truthTargets(b)
	r.seeTargets(b)
	r.repairTargets(b)
	r.dnsTargets(b)
	r.dataTargets(b)
	if x, ok1 := r.p50("ports.attach.one"); ok1 {
		y, _ := r.p50("ports.attach.none")
		d := x - y
		fmt.Fprintf(b, "| attach with one published port adds <= %s (p50 with - p50 without, interleaved) | %s (%s - %s) | %s |\n",
			ms(targetPortAttachAdd), ms(d), ms(x), ms(y), verdict(d <= targetPortAttachAdd))
	} else {
		na(fmt.Sprintf("attach with one published port adds <= %s", ms(targetPortAttachAdd)), "not measured")
	}
}

// burstTargets writes the burst rows of the targets table.
func (r *Report) burstTargets(b *strings.Builder) {
	pl, cni := r.burstRun("plumb"), r.burstRun("CNI bridge+host-local")
	name := fmt.Sprintf("burst of %d: 0 duplicate addresses, every attach done", r.Plan.Burst)
	if pl == nil {
		fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
	} else {
		fmt.Fprintf(b, "| %s | plumb: %d duplicates, %d failed, %d without an address | %s |\n", name, pl.Dups, pl.Failed, pl.Missing,
			verdict(pl.Dups == 0 && pl.Failed == 0 && pl.Missing == 0))
	}
	name = fmt.Sprintf("burst of %d: wall time <= %.1fx CNI reference", r.Plan.Burst, targetBurstVsCNI)
	if pl == nil || cni == nil {
		fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
		return
	}
	q := float64(pl.Wall) / float64(cni.Wall)
	fmt.Fprintf(b, "| %s | %.2f (%s / %s) | %s |\n", name, q, ms(pl.Wall), ms(cni.Wall), verdict(q <= targetBurstVsCNI && pl.Failed == 0))
}

func (r *Report) burstRun(tool string) *BurstRun {
	for _, x := range r.Results.Bursts {
		if x.Tool == tool {
			return x
		}
	}
	return nil
}

// levelsSection writes the attach/detach tables, level by level.
func (r *Report) levelsSection(b *strings.Builder) {
	p := r.Plan
	if !p.runs("latency") {
		return
	}
	fmt.Fprintf(b, "\n## Attach and detach as the network fills\n\n")
	fmt.Fprintf(b, "At each level L every tool's network first holds L-1 endpoints (untimed fill: plumb, CNI and "+
		"netavark attach target namespaces; Docker runs containers on the network). Then %d times a fresh sample "+
		"endpoint is attached (timed: the L-th endpoint) and detached (timed), the tools taking turns sample by sample, "+
		"so every timed attach finds exactly L-1 endpoints. Docker's sample containers run on a second network (a "+
		"container on `--network=none` cannot be connected to another) and get the bench network as eth1. The "+
		"control is plumb attaching the same namespaces to an empty network in the same rounds. netavark removes "+
		"the bridge and its rules with a network's last container and makes them again with the next: its "+
		"detach at 1 endpoint, and its attach after it, include that.\n", p.Samples)
	r.chartLinks(b, "attach", "detach")
	fmt.Fprintf(b, "\n### p50 by endpoint count\n\n| tool | operation |")
	for _, l := range p.Levels {
		fmt.Fprintf(b, " %d |", l)
	}
	fmt.Fprintf(b, "\n| --- | --- |%s\n", strings.Repeat(" ---: |", len(p.Levels)))
	for _, op := range []string{"attach", "detach"} {
		for _, t := range levelTools {
			cells, any := "", false
			for _, l := range p.Levels {
				if x, ok := r.p50(latKey(t, op, l)); ok {
					cells += " " + ms(x) + " |"
					any = true
				} else {
					cells += " – |"
				}
			}
			if any {
				fmt.Fprintf(b, "| %s | %s |%s\n", toolLabel(t), op, cells)
			}
		}
	}
	for _, l := range p.Levels {
		fmt.Fprintf(b, "\n### At %d endpoint%s\n\n", l, plural(l))
		var rows []row
		for _, op := range []string{"attach", "detach"} {
			for _, t := range levelTools {
				rows = append(rows, r.row(latKey(t, op, l)))
			}
			for _, t := range levelTools[2:] {
				rr := ratioRow(r.Results.get(latKey("plumb", op, l)), r.Results.get(latKey(t, op, l)))
				if rr.label != "" {
					rr.label = fmt.Sprintf("%s: ratio plumb / %s", op, toolLabel(t))
				}
				rows = append(rows, rr)
			}
		}
		table(b, rows)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// burstSection writes the burst table.
func (r *Report) burstSection(b *strings.Builder) {
	if !r.Plan.runs("burst") {
		return
	}
	fmt.Fprintf(b, "\n## Burst: %d attaches started at once\n\n", r.Plan.Burst)
	fmt.Fprintf(b, "%d processes released together onto an empty network (one goroutine each, started by one "+
		"channel close), then as many detaches. Wall time is from the release to the last exit; the addresses are "+
		"read back from the kernel (`ip -n NS -4 addr show dev eth0`) for duplicates.\n\n", r.Plan.Burst)
	fmt.Fprintf(b, "| tool | attach wall | attach p50 | attach p99 | attach max | failed | no address | duplicate addresses | detach wall | detach p99 | detach failed |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, x := range r.Results.Bursts {
		key := "plumb"
		if x.Tool != "plumb" {
			key = "cni"
		}
		a := r.Results.get("burst." + key + ".attach").Summarize()
		d := r.Results.get("burst." + key + ".detach").Summarize()
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d | %d | %d | %s | %s | %d |\n", x.Tool, ms(x.Wall), ms(a.P50), ms(a.P99), ms(a.Max),
			x.Failed, x.Missing, x.Dups, ms(x.DetachWall), ms(d.P99), x.DetFailed)
	}
	if pl, cni := r.burstRun("plumb"), r.burstRun("CNI bridge+host-local"); pl != nil && cni != nil {
		a, c := r.Results.get("burst.plumb.attach").Summarize(), r.Results.get("burst.cni.attach").Summarize()
		fmt.Fprintf(b, "| ratio plumb / CNI | %.2f | %.2f | %.2f | | | | | %.2f | | |\n",
			float64(pl.Wall)/float64(cni.Wall), fdiv(a.P50, c.P50), fdiv(a.P99, c.P99), float64(pl.DetachWall)/float64(cni.DetachWall))
	}
	for _, x := range r.Results.Bursts {
		if x.FirstErr != "" {
			fmt.Fprintf(b, "\n%s: first error: `%s`\n", x.Tool, x.FirstErr)
		}
		if x.Daemon != "" {
			fmt.Fprintf(b, "\n%s: %s.\n", x.Tool, x.Daemon)
		}
	}
}

func fdiv(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// portsAttachSection writes what publishing a port adds to an attach.
func (r *Report) portsAttachSection(b *strings.Builder) {
	if !r.Plan.runs("ports") {
		return
	}
	fmt.Fprintf(b, "\n## Published port: what `-p` adds to an attach\n\n")
	fmt.Fprintf(b, "The same namespace attached to an empty network without a port and with `-p %s`, detached after "+
		"each, the two alternating, %d times each.\n\n", portsPublish, r.Plan.Samples)
	rows := []row{r.row("ports.attach.none"), r.row("ports.attach.one")}
	if d := deltaRow(r.Results.get("ports.attach.one"), r.Results.get("ports.attach.none")); d.label != "" {
		rows = append(rows, d)
	}
	rows = append(rows, r.row("ports.detach.none"), r.row("ports.detach.one"))
	if d := deltaRow(r.Results.get("ports.detach.one"), r.Results.get("ports.detach.none")); d.label != "" {
		rows = append(rows, d)
	}
	table(b, rows)
}

// deltaRow subtracts b's percentiles from a's.
func deltaRow(a, b *Series) row {
	if a == nil || b == nil || len(a.Samples) == 0 || len(b.Samples) == 0 {
		return row{}
	}
	x, y := a.Summarize(), b.Summarize()
	return row{
		label: "difference: with the port - without",
		cells: []string{ms(x.P50 - y.P50), ms(x.P90 - y.P90), ms(x.P99 - y.P99), "", "", "", ms(x.CPU50 - y.CPU50)},
	}
}
