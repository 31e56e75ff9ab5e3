package main

import (
	"fmt"
	"strings"
)

// The overlay section's targets (issue 18).
const (
	targetOverlayIperf  = 0.95 // overlay across hosts / bare VXLAN pair
	targetOverlayAttach = 1.5  // overlay attach p50 / local bridge attach p50
)

// overlaySection reports the overlay section against the targets.
func (r *Report) overlaySection(b *strings.Builder) {
	res := r.Results
	if res.get("overlay.attach.ov") == nil && res.Overlay == nil {
		return
	}
	fmt.Fprintf(b, "\n## Overlay across hosts (issue 18)\n\n")
	fmt.Fprintf(b, "Three host namespaces on an underlay bridge (%s1-3/24), each with its own member of a real 3-member etcd "+
		"cluster (Debian's etcd 3.4), its own plumb-cluster agent on its local member and its own plumb state; the overlay "+
		"network `%s` (%s) is created in the store through h1's member. Attach: in each of %d rounds one target on h1 is "+
		"attached to the overlay and detached, then to a plain bridge network of the same plumb (`%s`, %s) and detached, "+
		"which goes first alternating. Convergence: from the start of an attach on h1 until a target on h3 gets an echo "+
		"reply from the new address (`ping -c 1 -W 0.2` again and again, the prober's ARP retry 10 ms so that an unanswered ARP fails in 30 ms), each sample detached and gone "+
		"from h3's VXLAN device before the next. Data path: iperf3 from a target on h1 to one on h2 over the overlay, over a "+
		"bare VXLAN pair between the h1 and h2 namespaces themselves, and to a second target on h1 (same host), taking turns.\n\n",
		ovUnderlay, ovNet, ovSubnet, r.Plan.Samples, ovLocalNet, ovLocalSubnet)
	fmt.Fprintf(b, "Command: `%s`\n\n", r.Meta.Command)
	r.overlayVerdicts(b)
	fmt.Fprintf(b, "\n### attach, detach, convergence\n\n")
	ratio := func(a, c string) row {
		x := ratioRow(res.get(a), res.get(c))
		if x.label != "" {
			x.label = "ratio overlay / local"
		}
		return x
	}
	table(b, []row{r.row("overlay.attach.ov"), r.row("overlay.attach.local"), ratio("overlay.attach.ov", "overlay.attach.local"),
		r.row("overlay.detach.ov"), r.row("overlay.detach.local"), ratio("overlay.detach.ov", "overlay.detach.local"),
		r.row("overlay.converge")})
	if d := res.Overlay; d != nil {
		iperfTable(b, d)
	}
}

// overlayVerdicts judges the targets and gives the rest for
// information.
func (r *Report) overlayVerdicts(b *strings.Builder) {
	res := r.Results
	fmt.Fprintf(b, "Targets:\n\n")
	ov, loc := res.get("overlay.attach.ov"), res.get("overlay.attach.local")
	if ov == nil || loc == nil || len(ov.Samples) == 0 || len(loc.Samples) == 0 {
		fmt.Fprintf(b, "- overlay attach p50 / local attach p50: not measured\n")
	} else {
		x, y := ov.Summarize(), loc.Summarize()
		q := float64(x.P50) / float64(y.P50)
		fmt.Fprintf(b, "- overlay attach p50 / local bridge attach p50: %.2f (%s / %s; paired difference %s), target ≤ %.1f: **%s**\n",
			q, ms(x.P50), ms(y.P50), signedMs(pairedDiff(ov, loc)), targetOverlayAttach, verdict(q <= targetOverlayAttach))
	}
	if c := res.get("overlay.converge"); c != nil && len(c.Samples) > 0 {
		s := c.Summarize()
		fmt.Fprintf(b, "- convergence, attach on h1 → reachable by address from h3: p50 %s, p99 %s (n %d; no target, for information)\n", ms(s.P50), ms(s.P99), s.N)
	}
	d := res.Overlay
	if d == nil {
		fmt.Fprintf(b, "- overlay throughput across hosts / bare VXLAN pair: not measured\n")
		return
	}
	bps := func(x DataRun) float64 { return x.Bps }
	cross, _, _, nc := d.median("ov-cross", kindIperf, bps)
	bare, _, _, nb := d.median("ov-bare", kindIperf, bps)
	same, _, _, ns := d.median("ov-same", kindIperf, bps)
	if nc == 0 || nb == 0 || bare == 0 {
		fmt.Fprintf(b, "- overlay throughput across hosts / bare VXLAN pair: no run (%s)\n",
			shorten(d.runErr("ov-cross", kindIperf)+d.runErr("ov-bare", kindIperf), 200))
		return
	}
	fmt.Fprintf(b, "- overlay throughput across hosts / bare VXLAN pair: %.3f (%s / %s, medians of %d runs), target ≥ %.2f: **%s**\n",
		cross/bare, gbps(cross), gbps(bare), min(nc, nb), targetOverlayIperf, verdict(cross/bare >= targetOverlayIperf))
	if med, qs := d.pairedRatio("ov-cross", "ov-bare", kindIperf, bps); len(qs) > 0 {
		fmt.Fprintf(b, "- the same, round by round: median %.3f of %s\n", med, strings.Join(qs, ", "))
	}
	if ns > 0 && same > 0 {
		fmt.Fprintf(b, "- overlay throughput across hosts / same host: %.3f (%s / %s; for information: the same-host path has no VXLAN)\n",
			cross/same, gbps(cross), gbps(same))
	}
}
