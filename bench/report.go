package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is everything the markdown report is made from.
type Report struct {
	Meta       Meta
	Plan       *Plan
	Results    *Results
	SetupNote  string
	SetupNotes []string // what the supervisor installed or built before the run
	HostDiff   HostDiff // what differs on the host after the run
	HostNotes  []string // what the bench had to tidy after plumb
	Charts     []Chart  // the PNGs written beside the report
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	m, p, res := r.Meta, r.Plan, r.Results
	fmt.Fprintf(&b, "# plumb benchmark report\n\n")
	fmt.Fprintf(&b, "- Date: %s\n", m.Date)
	if m.Command != "" {
		fmt.Fprintf(&b, "- Command: `%s`\n", m.Command)
	}
	fmt.Fprintf(&b, "- Kernel: %s; CPUs: %d (%s); memory %s\n", m.Kernel, m.CPUs, m.CPU, m.Mem)
	fmt.Fprintf(&b, "- plumb: %s (`%s`), built with %s\n", m.Plumb, m.PlumbPath, m.Go)
	fmt.Fprintf(&b, "- Peers: %s; %s", m.CNI, m.Netavark)
	if m.Docker != "" {
		fmt.Fprintf(&b, "; %s (default userland proxy: docker-proxy serves localhost)", m.Docker)
	}
	fmt.Fprintf(&b, "\n- %s; %s\n", m.IPTables, m.Iperf)
	endNote := ""
	if r.dnsLoaded() {
		endNote = " (after the DNS load runs, which keep both CPUs busy: not counted as other work)"
	}
	fmt.Fprintf(&b, "- Run: %d samples per tool at each of the levels %s; burst of %d; data path %d s per run, %d round(s); %d target namespaces for plumb",
		p.Samples, joinInts(p.Levels, ", "), p.Burst, p.DataSecs, p.Rounds, p.Namespaces)
	for _, x := range p.Peers {
		fmt.Fprintf(&b, ", %d for %s", x.N, x.Tool)
	}
	fmt.Fprintf(&b, "; load average at start %s, at end %s%s\n", m.LoadStart, m.LoadEnd, endNote)
	if len(p.Only) > 0 {
		fmt.Fprintf(&b, "- **Only the sections %s (-only)**: the others are empty\n", strings.Join(p.Only, ", "))
	}
	if p.NoIPv6 {
		fmt.Fprintf(&b, "- **Experiment (-no-ipv6): IPv6 was disabled in the host netns and in every target namespace before the run**; not the default setup\n")
	}
	fmt.Fprintf(&b, "\nEvery latency is the wall time of one process, fork to exit, measured by the bench "+
		"process; CPU is the child's user+sys time. plumb runs inside a throwaway netns (`%s`) that the bench "+
		"process's own threads were born in, and the CNI and netavark peers each in their own (`-cni`, `-nvk`), "+
		"started from a thread that has setns(2)'d there: no `ip netns exec` in the measured path, and no tool's "+
		"links or rules weigh on another's calls. Docker works in the real host's netns, driven by its CLI. "+
		"Percentiles are nearest-rank.\n", p.Host)
	fmt.Fprintf(&b, "\nLoad average (1 min) as each step began: %s.", strings.Join(res.Loads, ", "))
	if busy := r.busiest(); busy > float64(m.CPUs)/2 {
		fmt.Fprintf(&b, " **The machine was busy (load up to %.2f on %d CPUs): other work competed with the "+
			"benchmark, so figures are inflated and noisy; the ratios, taken from interleaved runs, hold up better than the absolute times.**", busy, m.CPUs)
	}
	fmt.Fprintln(&b)
	if res.Error != "" {
		fmt.Fprintf(&b, "\n**INCOMPLETE RUN: %s**\n", res.Error)
	}

	r.targets(&b)
	r.missingPeers(&b)
	r.levelsSection(&b)
	r.burstSection(&b)
	r.portsAttachSection(&b)
	if res.get("plumb.cni.add") != nil {
		r.cniSection(&b)
	}
	r.truthSection(&b)
	r.seeSection(&b)
	r.repairSection(&b)
	r.dataSections(&b)
	r.nftSection(&b)
	r.ipv6Section(&b)
	r.overlaySection(&b)

	fmt.Fprintf(&b, "\n## Floors and baselines\n\n")
	table(&b, []row{
		r.rowAs("floor.true", "process floor: fork+exec /bin/true"),
		r.rowAs("floor.hello", "process floor: Go hello world (fmt.Println; CGO_ENABLED=0, -trimpath, built by the bench)"),
		r.rowAs("floor.plumb", "process floor: plumb ps with no networks (Go start-up, init, cobra, exit)"),
		r.rowAs("floor.ipadd", "kernel floor: `ip link add` veth, master bridge, peer into bt-i"),
		r.rowAs("floor.ipdel", "kernel floor: ip link del of a veth (bridge-attached, peer in bt-i)"),
		r.rowAs("floor.ipdel.local", "kernel floor: ip link del of a veth (bridge-attached, peer in same netns)"),
		r.rowAs("base.netnsexec", "`ip netns exec HOST true` (not in the measured path; not subtracted)"),
	})

	fmt.Fprintf(&b, "\n## Other operations\n\n")
	table(&b, []row{r.row("plumb.create"), r.row("fill.plumb"), r.row("fill.cni"), r.row("fill.netavark"), r.row("plumb.rm")})

	r.dnsSection(&b)

	fmt.Fprintf(&b, "\n## Host check\n\n")
	r.hostCheck(&b)
	notes := append(append([]string{r.SetupNote}, r.SetupNotes...), append(res.Notes, r.HostNotes...)...)
	fmt.Fprintf(&b, "\n## Notes\n\n")
	for _, n := range notes {
		if n != "" {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// missingPeers says, plainly, which peer is missing from which table.
func (r *Report) missingPeers(b *strings.Builder) {
	p := r.Plan
	lines := map[string]string{}
	for k, v := range r.Results.Peers {
		lines[k] = v
	}
	for _, x := range []struct{ key, why string }{{"cni", p.CNISkip}, {"netavark", p.NetavarkSkip}, {"docker", p.DockerSkip}} {
		if x.why != "" && lines[x.key] == "" {
			lines[x.key] = x.why
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\n**Peers missing from some tables:**\n\n")
	for _, k := range []string{"cni", "netavark", "docker"} {
		if v := lines[k]; v != "" {
			fmt.Fprintf(b, "- %s: %s\n", toolLabel(k), v)
		}
	}
}

// toolLabel is a tool key's name in prose.
func toolLabel(key string) string {
	switch key {
	case "plumb":
		return "plumb"
	case "plumbctl":
		return "plumb, empty control network"
	case "cni":
		return "CNI bridge+host-local"
	case "netavark":
		return "netavark"
	case "docker":
		return "Docker"
	case "hello":
		return "Go hello world"
	}
	return key
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
	const parts = "`ip netns`, `ip -o link`, `iptables-save` (counters aside), /etc/netns, /run/plumb and the Docker containers and networks labelled " + dockerLabel
	d := r.HostDiff
	switch {
	case len(d.Added) == 0 && len(d.Gone) == 0 && len(d.Others) == 0:
		fmt.Fprintf(b, "The host was left as found: %s are identical before and after.\n", parts)
	case len(d.Added) == 0:
		fmt.Fprintf(b, "Nothing of the bench's was left on the host (%s: no new entry names anything of this run). "+
			"Other processes changed the host meanwhile (parallel test runs): %d entries appeared that name nothing "+
			"of the run, and %d present before had gone (the bench removes only what it made).\n", parts, len(d.Others), len(d.Gone))
	default:
		fmt.Fprintf(b, "**WARNING: the host differs after the run.** %d new entries name something of this run "+
			"(left behind by the bench); besides, %d new entries name nothing of it and %d have gone:\n\n", len(d.Added), len(d.Others), len(d.Gone))
	}
	for _, l := range d.Added {
		fmt.Fprintf(b, "    + %s\n", l)
	}
	const show = 6
	list := func(sign string, ls []string) {
		for i, l := range ls {
			if i == show {
				fmt.Fprintf(b, "    %s … and %d more\n", sign, len(ls)-show)
				break
			}
			fmt.Fprintf(b, "    %s %s\n", sign, l)
		}
	}
	if len(d.Others)+len(d.Gone) > 0 {
		fmt.Fprintf(b, "\nThe first of the others' changes:\n\n")
	}
	list("+", d.Others)
	list("-", d.Gone)
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
	if x.label != "" {
		x.label = label
	}
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

// table writes rows under the common header, skipping empty rows; with
// no row at all it says so instead.
func table(b *strings.Builder, rows []row) {
	if !slices.ContainsFunc(rows, func(x row) bool { return x.label != "" }) {
		fmt.Fprintf(b, "Not measured in this run.\n")
		return
	}
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

// joinInts joins xs with sep.
func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}
