package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Targets from the issue.
const (
	targetAttachP50 = 7 * time.Millisecond
	targetDetachP50 = 10 * time.Millisecond
	targetFillRatio = 1.2
)

// Report is everything the markdown report is made from.
type Report struct {
	Meta      Meta
	Plan      *Plan
	Results   *Results
	SetupNote string
	HostDiff  HostDiff // what differs on the host after the run
	HostNotes []string // what the bench had to tidy after plumb
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	m, p, res := r.Meta, r.Plan, r.Results
	fmt.Fprintf(&b, "# plumb benchmark report\n\n")
	fmt.Fprintf(&b, "- Date: %s\n", m.Date)
	fmt.Fprintf(&b, "- Kernel: %s; CPUs: %d (%s)\n", m.Kernel, m.CPUs, m.CPU)
	fmt.Fprintf(&b, "- plumb: %s (`%s`), built with %s\n", m.Plumb, m.PlumbPath, m.Go)
	fmt.Fprintf(&b, "- Peer: %s\n", m.CNI)
	fmt.Fprintf(&b, "- %s\n", m.IPTables)
	endNote := ""
	if r.dnsLoaded() {
		endNote = " (after the DNS load runs, which keep both CPUs busy: not counted as other work)"
	}
	fmt.Fprintf(&b, "- Run: n=%d, fill=%d (%d target namespaces); load average at start %s, at end %s%s\n",
		p.N, p.Fill, p.Namespaces, m.LoadStart, m.LoadEnd, endNote)
	if p.NoIPv6 {
		fmt.Fprintf(&b, "- **Experiment (-no-ipv6): IPv6 was disabled in the host netns and in every target namespace before the run**; not the default setup\n")
	}
	fmt.Fprintf(&b, "\nEvery figure is the wall time of one process, fork to exit, measured by the bench "+
		"process; CPU is the child's user+sys time. All of it runs inside a throwaway netns (`%s`) that the bench "+
		"process's own threads were born in, so plumb and the plugins are exec'd directly: no `ip netns exec` in "+
		"the measured path, and nothing to subtract. Percentiles are nearest-rank.\n", p.Host)
	fmt.Fprintf(&b, "\nLoad average (1 min) as each step began: %s.", strings.Join(res.Loads, ", "))
	if busy := r.busiest(); busy > float64(m.CPUs)/2 {
		fmt.Fprintf(&b, " **The machine was busy (load up to %.2f on %d CPUs): other work competed with the "+
			"benchmark, so figures are inflated and noisy; rerun on a quiet machine before judging a target.**", busy, m.CPUs)
	}
	fmt.Fprintln(&b)
	if res.Error != "" {
		fmt.Fprintf(&b, "\n**INCOMPLETE RUN: %s**\n", res.Error)
	}

	r.targets(&b)

	fmt.Fprintf(&b, "\n## Attach: %d namespaces, one by one, on an empty network\n\n", p.N)
	table(&b, []row{r.row("plumb.attach"), r.row("cni.add"), ratioRow(res.get("plumb.attach"), res.get("cni.add"))})
	fmt.Fprintf(&b, "\n## Detach: the same %d namespaces, same order\n\n", p.N)
	table(&b, []row{r.row("plumb.detach"), r.row("cni.del"), ratioRow(res.get("plumb.detach"), res.get("cni.del"))})
	r.cniSection(&b)

	fmt.Fprintf(&b, "\n## Fill: attach latency as the network grows to %d endpoints\n\n", p.Fill)
	fill := []row{r.row("fill.first")}
	for _, s := range res.Series {
		if s.Key == "fill.bucket" {
			fill = append(fill, seriesRow(s))
		}
	}
	fill = append(fill, r.row("fill.last"), r.row("fill.ctl"))
	for _, x := range []struct {
		key, label string
	}{
		{"fill.first", fmt.Sprintf("ratio at %d / at 1 (first %d attaches)", p.Fill, fillSample)},
		{"fill.ctl", fmt.Sprintf("ratio at %d / control (same moments)", p.Fill)},
	} {
		if rr := ratioRow(res.get("fill.last"), res.get(x.key)); rr.cells != nil {
			rr.label = x.label
			fill = append(fill, rr)
		}
	}
	table(&b, fill)
	if s := res.get("plumb.attach"); s != nil && len(s.Samples) >= fillSample {
		head := &Series{Samples: s.Samples[:fillSample]}
		fmt.Fprintf(&b, "\nFor comparison, the first %d attaches of the latency run (also on an empty network): p50 %s.\n", fillSample, ms(head.Summarize().P50))
	}

	fmt.Fprintf(&b, "\n## Floors and baselines\n\n")
	table(&b, []row{
		r.rowAs("floor.true", "process floor: fork+exec /bin/true"),
		r.rowAs("floor.plumb", "process floor: plumb ps with no networks (Go start-up, init, cobra, exit)"),
		r.rowAs("floor.ipadd", "kernel floor: `ip link add` veth, master bridge, peer into bt-i"),
		r.rowAs("floor.ipdel", "kernel floor: ip link del of a veth (bridge-attached, peer in bt-i)"),
		r.rowAs("floor.ipdel.local", "kernel floor: ip link del of a veth (bridge-attached, peer in same netns)"),
		r.rowAs("base.netnsexec", "`ip netns exec HOST true` (not in the measured path; not subtracted)"),
	})

	fmt.Fprintf(&b, "\n## Other plumb operations\n\n")
	table(&b, []row{r.row("plumb.create"), r.row("fill.detach"), r.row("fill.ps"), r.row("fill.rm")})

	r.dnsSection(&b)

	fmt.Fprintf(&b, "\n## Host check\n\n")
	r.hostCheck(&b)
	notes := append([]string{r.SetupNote}, append(res.Notes, r.HostNotes...)...)
	fmt.Fprintf(&b, "\n## Notes\n\n")
	for _, n := range notes {
		if n != "" {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// busiest is the highest 1-minute load average seen during the run.
func (r *Report) busiest() float64 {
	var top float64
	loads := append([]string{"start " + r.Meta.LoadStart}, r.Results.Loads...)
	if !r.dnsLoaded() { // else the end figure is the DNS benchmark's own load
		loads = append(loads, "end "+r.Meta.LoadEnd)
	}
	for _, l := range loads {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil && v > top {
			top = v
		}
	}
	return top
}

// hostCheck writes the before/after comparison of the host.
func (r *Report) hostCheck(b *strings.Builder) {
	const parts = "`ip netns`, `ip -o link`, `iptables-save` (counters aside), /etc/netns and /run/plumb"
	d := r.HostDiff
	switch {
	case len(d.Added) == 0 && len(d.Gone) == 0:
		fmt.Fprintf(b, "The host was left as found: %s are identical before and after.\n", parts)
	case len(d.Added) == 0:
		fmt.Fprintf(b, "Nothing was added to the host (%s). %d entries present before the run had gone "+
			"after it: the bench removes only what it made, so another process (a parallel test run?) "+
			"changed the host meanwhile:\n\n", parts, len(d.Gone))
	default:
		fmt.Fprintf(b, "**WARNING: the host differs after the run.** %d entries are new (left behind by the "+
			"bench, or made by another process meanwhile), %d have gone:\n\n", len(d.Added), len(d.Gone))
	}
	for _, l := range d.Added {
		fmt.Fprintf(b, "    + %s\n", l)
	}
	const show = 12
	for i, l := range d.Gone {
		if i == show {
			fmt.Fprintf(b, "    - … and %d more\n", len(d.Gone)-show)
			break
		}
		fmt.Fprintf(b, "    - %s\n", l)
	}
}

// targets writes the PASS/MISS table of the targets.
func (r *Report) targets(b *strings.Builder) {
	res := r.Results
	fmt.Fprintf(b, "\n## Targets\n\n| target | measured | result |\n| --- | --- | --- |\n")
	check := func(name string, s *Series, limit time.Duration) {
		if s == nil || len(s.Samples) == 0 {
			fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
			return
		}
		p50 := s.Summarize().P50
		fmt.Fprintf(b, "| %s | %s | %s |\n", name, ms(p50), verdict(p50 <= limit))
	}
	check("plumb attach p50 <= 7 ms", res.get("plumb.attach"), targetAttachP50)
	check("plumb detach p50 <= 10 ms", res.get("plumb.detach"), targetDetachP50)
	first, last := res.get("fill.first"), res.get("fill.last")
	ratio := func(name string, base *Series) {
		if base == nil || last == nil || len(base.Samples) == 0 || len(last.Samples) == 0 {
			fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
			return
		}
		x, y := last.Summarize().P50, base.Summarize().P50
		q := float64(x) / float64(y)
		fmt.Fprintf(b, "| %s | %.2f (%s / %s) | %s |\n", name, q, ms(x), ms(y), verdict(q <= targetFillRatio))
	}
	ratio(fmt.Sprintf("attach p50 at %d / at 1 <= %.1f", r.Plan.Fill, targetFillRatio), first)
	ratio(fmt.Sprintf("same, against the interleaved empty-network control (robust to other load) <= %.1f", targetFillRatio), res.get("fill.ctl"))
	r.cniTargets(b)
	r.dnsTargets(b)
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// row is one line of a table; cells are already formatted.
type row struct {
	label string
	cells []string
}

// row returns the table line of the series with key, labelled by its tool and op.
func (r *Report) row(key string) row {
	return seriesRow(r.Results.get(key))
}

// rowAs is row with an explicit label.
func (r *Report) rowAs(key, label string) row {
	x := seriesRow(r.Results.get(key))
	x.label = label
	return x
}

func seriesRow(s *Series) row {
	if s == nil || len(s.Samples) == 0 {
		return row{}
	}
	m := s.Summarize()
	return row{
		label: s.Tool + ": " + s.Op,
		cells: []string{ms(m.P50), ms(m.P90), ms(m.P99), ms(m.Min), ms(m.Max), fmt.Sprint(m.N), ms(m.CPU50)},
	}
}

// ratioRow divides a's percentiles by b's.
func ratioRow(a, b *Series) row {
	if a == nil || b == nil || len(a.Samples) == 0 || len(b.Samples) == 0 {
		return row{}
	}
	x, y := a.Summarize(), b.Summarize()
	f := func(p, q time.Duration) string { return fmt.Sprintf("%.2f", float64(p)/float64(q)) }
	return row{
		label: "ratio plumb / peer",
		cells: []string{f(x.P50, y.P50), f(x.P90, y.P90), f(x.P99, y.P99), "", "", "", f(x.CPU50, y.CPU50)},
	}
}

// table writes rows under the common header, skipping empty rows.
func table(b *strings.Builder, rows []row) {
	fmt.Fprintf(b, "| tool: operation | p50 | p90 | p99 | min | max | n | CPU p50 |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, x := range rows {
		if x.label == "" {
			continue
		}
		fmt.Fprintf(b, "| %s | %s |\n", x.label, strings.Join(x.cells, " | "))
	}
}

// ms formats d in milliseconds, or seconds from 10 s.
func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
