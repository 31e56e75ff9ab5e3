package main

import (
	"fmt"
	"slices"
	"strings"
)

// The ipv6 section's targets (issue 17).
const (
	targetDualAttach = 1.2  // dual-stack attach p50 / IPv4-only attach p50
	targetV6Iperf    = 0.97 // IPv6 / IPv4 container-to-container throughput
)

// ipv6Section reports the ipv6 section: dual-stack against IPv4-only
// attach and detach, and the data path over each family, against the
// issue's targets.
func (r *Report) ipv6Section(b *strings.Builder) {
	res := r.Results
	if res.get("ipv6.attach.dual") == nil && res.IPv6Data == nil {
		return
	}
	fmt.Fprintf(b, "\n## IPv6: dual-stack against IPv4-only (issue 17)\n\n")
	fmt.Fprintf(b, "One plumb in the bench netns holds a dual-stack network (`--ipv6 --subnet %s --subnet %s`) and an "+
		"IPv4-only one (`--subnet %s`). In each of %d rounds the same target is attached to one and detached, then to the "+
		"other and detached, which goes first alternating; \"paired difference\" is the median of dual-stack minus "+
		"IPv4-only, round by round. The data path is iperf3 between the same two endpoints of one dual-stack network, "+
		"to the server's IPv4 address and to its IPv6 address, taking turns.\n\n",
		ipv6DualV4, ipv6DualV6, ipv6V4Subnet, r.Plan.Samples)
	fmt.Fprintf(b, "Command: `%s`\n\n", r.Meta.Command)
	r.ipv6Verdicts(b)
	fmt.Fprintf(b, "\n### attach and detach\n\n")
	table(b, []row{r.row("ipv6.attach.dual"), r.row("ipv6.attach.v4"), ipv6Ratio(res.get("ipv6.attach.dual"), res.get("ipv6.attach.v4")),
		r.row("ipv6.detach.dual"), r.row("ipv6.detach.v4"), ipv6Ratio(res.get("ipv6.detach.dual"), res.get("ipv6.detach.v4"))})
	if d := res.IPv6Data; d != nil {
		iperfTable(b, d)
	}
}

// ipv6Ratio is ratioRow labelled as the dual-stack / IPv4-only ratio.
func ipv6Ratio(a, b *Series) row {
	x := ratioRow(a, b)
	if x.label != "" {
		x.label = "ratio dual-stack / IPv4-only"
	}
	return x
}

// ipv6Verdicts judges the two targets and gives detach for information.
func (r *Report) ipv6Verdicts(b *strings.Builder) {
	res := r.Results
	fmt.Fprintf(b, "Targets:\n\n")
	for _, op := range []string{"attach", "detach"} {
		dual, v4 := res.get("ipv6."+op+".dual"), res.get("ipv6."+op+".v4")
		if dual == nil || v4 == nil || len(dual.Samples) == 0 || len(v4.Samples) == 0 {
			fmt.Fprintf(b, "- %s: not measured\n", op)
			continue
		}
		x, y := dual.Summarize(), v4.Summarize()
		q := float64(x.P50) / float64(y.P50)
		judged := fmt.Sprintf("target ≤ %.1f: **%s**", targetDualAttach, verdict(q <= targetDualAttach))
		if op == "detach" {
			judged = "no target (for information)"
		}
		fmt.Fprintf(b, "- dual-stack %s p50 / IPv4-only %s p50: %.2f (%s / %s; paired difference %s; CPU p50 %s / %s), %s\n",
			op, op, q, ms(x.P50), ms(y.P50), signedMs(pairedDiff(dual, v4)), ms(x.CPU50), ms(y.CPU50), judged)
	}
	d := res.IPv6Data
	if d == nil {
		fmt.Fprintf(b, "- container-to-container throughput over IPv6 / over IPv4: not measured\n")
		return
	}
	bps := func(x DataRun) float64 { return x.Bps }
	v6, _, _, n6 := d.median("ipv6-v6", kindIperf, bps)
	v4, _, _, n4 := d.median("ipv6-v4", kindIperf, bps)
	if n6 == 0 || n4 == 0 || v4 == 0 {
		fmt.Fprintf(b, "- container-to-container throughput over IPv6 / over IPv4: no run (%s)\n",
			shorten(d.runErr("ipv6-v6", kindIperf)+d.runErr("ipv6-v4", kindIperf), 200))
		return
	}
	fmt.Fprintf(b, "- container-to-container throughput (iperf3, one dual-stack network), over IPv6 / over IPv4: %.3f (%s / %s, medians of %d runs each), target ≥ %.2f: **%s**\n",
		v6/v4, gbps(v6), gbps(v4), min(n6, n4), targetV6Iperf, verdict(v6/v4 >= targetV6Iperf))
	if med, qs := d.pairedRatio("ipv6-v6", "ipv6-v4", kindIperf, bps); len(qs) > 0 {
		fmt.Fprintf(b, "- the same, round by round (the two runs of a round are back to back, so other load weighs on both alike): median %.3f of %s\n",
			med, strings.Join(qs, ", "))
	}
}

// pairedRatio is the median over rounds of a's run over b's run of that
// round (by f), with each round's ratio formatted, in round order; rounds
// where either run failed are left out.
func (d *DataResults) pairedRatio(a, b, kind string, f func(DataRun) float64) (float64, []string) {
	by := func(key string) map[int]float64 {
		m := map[int]float64{}
		for _, r := range d.Runs {
			if r.Setup == key && r.Kind == kind && r.Err == "" {
				m[r.Round] = f(r)
			}
		}
		return m
	}
	as, bs := by(a), by(b)
	var qs []float64
	var text []string
	for r := 1; r <= d.Rounds; r++ {
		x, ok1 := as[r]
		y, ok2 := bs[r]
		if ok1 && ok2 && y > 0 {
			qs = append(qs, x/y)
			text = append(text, fmt.Sprintf("%.2f", x/y))
		}
	}
	if len(qs) == 0 {
		return 0, nil
	}
	slices.Sort(qs)
	return qs[(len(qs)-1)/2], text
}
