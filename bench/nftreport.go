package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// nftSection reports the nft section (issue 16): what -p adds at each
// level for each backend and Docker, network create and rm, and the data
// path of each backend, against the targets.
func (r *Report) nftSection(b *strings.Builder) {
	res := r.Results
	if res.get(nftKey("nftables", 0, "attach.none")) == nil && res.get(nftKey("iptables", 0, "attach.none")) == nil {
		return
	}
	fmt.Fprintf(b, "\n## Firewall backends: nftables against iptables (issue 16)\n\n")
	fmt.Fprintf(b, "Each backend is its own plumb in the bench netns (its own state and run dirs, daemon and port holder; "+
		"`PLUMB_FIREWALL=iptables` or `nftables` on every call), the two side by side, their samples taking turns. "+
		"At each level, filler targets publish %d ports each on the host; then the same target is attached without a port "+
		"and detached, and attached with `-p HOSTPORT:80` and detached, the two orders alternating. \"-p adds\" is the "+
		"median of the paired differences (with -p minus without, sample by sample). Docker: `docker run -d` and "+
		"`docker rm -f` on its default bridge, filler containers publishing port ranges (one docker-proxy a port).\n\n", nftFillPer)
	fmt.Fprintf(b, "| tool | ports on the host | attach p50 | attach -p p50 | -p adds to attach | detach p50 | detach -p p50 | -p adds to detach | n |\n")
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, tool := range append(slices.Clone(nftBackends), "docker") {
		for _, lvl := range nftLevels {
			an, ap := res.get(nftKey(tool, lvl, "attach.none")), res.get(nftKey(tool, lvl, "attach.one"))
			dn, dp := res.get(nftKey(tool, lvl, "detach.none")), res.get(nftKey(tool, lvl, "detach.one"))
			if an == nil || ap == nil || len(an.Samples) == 0 {
				continue
			}
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %d |\n", nftToolLabel(tool), lvl,
				ms(an.Summarize().P50), ms(ap.Summarize().P50), signedMs(pairedDiff(ap, an)),
				ms(dn.Summarize().P50), ms(dp.Summarize().P50), signedMs(pairedDiff(dp, dn)), len(an.Samples))
		}
	}
	r.nftVerdicts(b)
	fmt.Fprintf(b, "\n### network create and rm\n\n")
	table(b, []row{r.row(nftKey("iptables", -1, "create")), r.row(nftKey("nftables", -1, "create")),
		nftRatio(res.get(nftKey("nftables", -1, "create")), res.get(nftKey("iptables", -1, "create"))),
		r.row(nftKey("iptables", -1, "rm")), r.row(nftKey("nftables", -1, "rm")),
		nftRatio(res.get(nftKey("nftables", -1, "rm")), res.get(nftKey("iptables", -1, "rm")))})
	r.nftData(b)
}

// nftKey is the series key of tool's op at level lvl (-1: no level).
func nftKey(tool string, lvl int, op string) string {
	if lvl < 0 {
		return "nft." + tool + "." + op
	}
	return fmt.Sprintf("nft.%s.%d.%s", tool, lvl, op)
}

func nftToolLabel(tool string) string {
	if tool == "docker" {
		return "Docker `docker run -p` (its iptables)"
	}
	return "plumb, " + tool + " backend"
}

// pairedDiff is the median of a's samples minus b's, index by index: the
// two were taken in turns, so each pair saw the same machine.
func pairedDiff(a, b *Series) time.Duration {
	n := min(len(a.Samples), len(b.Samples))
	if n == 0 {
		return 0
	}
	d := make([]time.Duration, n)
	for i := range n {
		d[i] = a.Samples[i].Wall - b.Samples[i].Wall
	}
	slices.Sort(d)
	return d[(n-1)/2]
}

func signedMs(d time.Duration) string {
	return fmt.Sprintf("%+.2f ms", float64(d)/float64(time.Millisecond))
}

// nftRatio is the row of a's p50 (and p90, p99) over b's, labelled as the
// nftables / iptables ratio.
func nftRatio(a, b *Series) row {
	x := ratioRow(a, b)
	if x.label != "" {
		x.label = "ratio nftables / iptables (target ≤ 0.5 at p50)"
	}
	return x
}

// nftVerdicts judges the targets for -p and for create and rm.
func (r *Report) nftVerdicts(b *strings.Builder) {
	res := r.Results
	fmt.Fprintf(b, "\nTargets:\n\n")
	var adds []string
	ok := true
	for _, lvl := range nftLevels {
		for _, op := range []string{"attach", "detach"} {
			a, n := res.get(nftKey("nftables", lvl, op+".one")), res.get(nftKey("nftables", lvl, op+".none"))
			if a == nil || n == nil || len(a.Samples) == 0 {
				continue
			}
			d := pairedDiff(a, n)
			ok = ok && d <= time.Millisecond
			adds = append(adds, fmt.Sprintf("%s at %d: %s", op, lvl, signedMs(d)))
		}
	}
	if len(adds) > 0 {
		fmt.Fprintf(b, "- nftables: -p adds ≤ 1 ms at every level: **%s** (%s)\n", verdict(ok), strings.Join(adds, "; "))
	}
	top := nftLevels[len(nftLevels)-1]
	for _, op := range []string{"attach", "detach"} {
		p50 := func(lvl int, which string) float64 {
			s := res.get(nftKey("nftables", lvl, op+"."+which))
			if s == nil || len(s.Samples) == 0 {
				return 0
			}
			return float64(s.Summarize().P50)
		}
		hi, lo, hiCtl, loCtl := p50(top, "one"), p50(0, "one"), p50(top, "none"), p50(0, "none")
		if hi == 0 || lo == 0 || hiCtl == 0 || loCtl == 0 {
			continue
		}
		raw, norm := hi/lo, (hi/hiCtl)/(lo/loCtl)
		fmt.Fprintf(b, "- nftables: %s -p at %d ports / at 0 ports, p50, each over the %s without -p at its level "+
			"(the paired control: immune to the machine's load changing between levels): %.2f (raw %.2f), target ≤ 1.1: **%s**\n",
			op, top, op, norm, raw, verdict(norm <= 1.1))
	}
	for _, op := range []string{"create", "rm"} {
		n, i := res.get(nftKey("nftables", -1, op)), res.get(nftKey("iptables", -1, op))
		if n == nil || i == nil || len(n.Samples) == 0 || len(i.Samples) == 0 {
			continue
		}
		q := float64(n.Summarize().P50) / float64(i.Summarize().P50)
		fmt.Fprintf(b, "- network %s, nftables / iptables p50: %.2f, target ≤ 0.5: **%s**\n", op, q, verdict(q <= 0.5))
	}
}

// nftData reports the data path of each backend: iperf3 medians and the
// nftables / iptables ratios, target ≥ 0.97.
func (r *Report) nftData(b *strings.Builder) {
	d := r.Results.NftData
	if d == nil {
		return
	}
	iperfTable(b, d)
	gbps := func(x DataRun) float64 { return x.Bps / 1e9 }
	for _, c := range []struct{ suffix, what string }{{"", "container to container"}, {"-port", "localhost to a published port"}} {
		nf, _, _, k1 := d.median("nft-nftables"+c.suffix, kindIperf, gbps)
		ip, _, _, k2 := d.median("nft-iptables"+c.suffix, kindIperf, gbps)
		if k1 == 0 || k2 == 0 || ip == 0 {
			continue
		}
		fmt.Fprintf(b, "- %s throughput, nftables / iptables: %.3f, target ≥ 0.97: **%s**\n", c.what, nf/ip, verdict(nf/ip >= 0.97))
	}
}

// iperfTable writes the data path's heading, its notes, and each setup's
// iperf3 median, min and max over its runs.
func iperfTable(b *strings.Builder, d *DataResults) {
	fmt.Fprintf(b, "\n### Data path (iperf3, %d s a run, %d round(s), setups taking turns)\n\n", d.Secs, d.Rounds)
	for _, n := range d.Notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
	gbps := func(x DataRun) float64 { return x.Bps / 1e9 }
	fmt.Fprintf(b, "| setup | path | Gbit/s median | min | max | runs |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, s := range d.Setups {
		med, lo, hi, n := d.median(s.Key, kindIperf, gbps)
		if n == 0 {
			fmt.Fprintf(b, "| %s | %s | no run (%s) | | | 0 |\n", s.Label, s.Path, d.runErr(s.Key, kindIperf))
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %.2f | %.2f | %.2f | %d |\n", s.Label, s.Path, med, lo, hi, n)
	}
	fmt.Fprintln(b)
}
