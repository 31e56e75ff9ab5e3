package main

import (
	"fmt"
	"strings"
	"time"
)

// DNS targets from the issue.
const (
	targetDNSQPSRatio = 2.0       // plumb's qps at least twice aardvark-dns's and Docker's
	targetDNSP99Ratio = 0.5       // plumb's dnsperf p99 at most half aardvark-dns's (issue 7)
	targetDNSRSSkB    = 30 * 1024 // the daemon's VmRSS with 1000 names on 10 networks: 30 MiB
	targetDNSNames    = 1000
)

// dnsLoaded reports whether the DNS load runs ran (last in the run).
func (r *Report) dnsLoaded() bool {
	d := r.Results.DNS
	return d != nil && d.Skip == "" && len(d.Perf) > 0
}

// dnsTargets writes the DNS rows of the targets table.
func (r *Report) dnsTargets(b *strings.Builder) {
	d := r.Results.DNS
	qpsName := fmt.Sprintf("plumb DNS qps >= %.0fx aardvark-dns (dnsperf -c %d; plumb @127.0.0.11)", targetDNSQPSRatio, dnsWorkers)
	p99Name := "plumb DNS p99 <= aardvark-dns p99 (dnsperf, every query's latency)"
	p99HalfName := fmt.Sprintf("plumb DNS p99 <= %.1fx aardvark-dns p99 (dnsperf)", targetDNSP99Ratio)
	dockerName := fmt.Sprintf("plumb DNS qps >= %.0fx Docker's embedded DNS (dnsperf -c %d; both @127.0.0.11)", targetDNSQPSRatio, dnsWorkers)
	goName := fmt.Sprintf("same, Go client (%d workers, one query in flight each)", dnsWorkers)
	rssName := fmt.Sprintf("plumb daemon VmRSS <= 30 MiB with %d names on %d networks", targetDNSNames, dnsNets)
	if d == nil || d.Skip != "" {
		why := "not measured"
		if d != nil {
			why = d.Skip
		}
		for _, n := range []string{qpsName, p99Name, p99HalfName, dockerName, goName, rssName} {
			fmt.Fprintf(b, "| %s | %s | n/a |\n", n, why)
		}
		return
	}
	pl, av := getRun(d.Perf, "plumb.lo"), getRun(d.Perf, "aardvark.gw")
	gpl, gav := getRun(d.Go, "plumb.lo"), getRun(d.Go, "aardvark.gw")
	if pl == nil || av == nil {
		why := "not measured"
		if d.AardvarkSkip != "" {
			why = "aardvark-dns skipped"
		}
		fmt.Fprintf(b, "| %s | %s | n/a |\n| %s | %s | n/a |\n| %s | %s | n/a |\n", qpsName, why, p99Name, why, p99HalfName, why)
	} else {
		q := pl.QPS / av.QPS
		fmt.Fprintf(b, "| %s | %.2fx (%.0f / %.0f qps) | %s |\n", qpsName, q, pl.QPS, av.QPS, verdict(q >= targetDNSQPSRatio))
		fmt.Fprintf(b, "| %s | %s / %s | %s |\n", p99Name, dms(pl.P99), dms(av.P99), verdict(pl.P99 <= av.P99 && pl.Lost == 0))
		h := float64(pl.P99) / float64(av.P99)
		fmt.Fprintf(b, "| %s | %.2fx (%s / %s) | %s |\n", p99HalfName, h, dms(pl.P99), dms(av.P99), verdict(h <= targetDNSP99Ratio && pl.Lost == 0))
	}
	if dk := getRun(d.Perf, "docker.lo"); pl == nil || dk == nil {
		why := "not measured"
		if d.DockerSkip != "" {
			why = "Docker skipped: " + d.DockerSkip
		}
		fmt.Fprintf(b, "| %s | %s | n/a |\n", dockerName, why)
	} else {
		q := pl.QPS / dk.QPS
		fmt.Fprintf(b, "| %s | %.2fx (%.0f / %.0f qps) | %s |\n", dockerName, q, pl.QPS, dk.QPS, verdict(q >= targetDNSQPSRatio))
	}
	if gpl == nil || gav == nil {
		fmt.Fprintf(b, "| %s | not measured | n/a |\n", goName)
	} else {
		fmt.Fprintf(b, "| %s | %s / %s | %s |\n", goName, dms(gpl.P99), dms(gav.P99), verdict(gpl.P99 <= gav.P99 && gpl.Lost == 0))
	}
	switch {
	case d.Plumb.RSS == 0:
		fmt.Fprintf(b, "| %s | not measured | n/a |\n", rssName)
	case d.Names < targetDNSNames || d.Networks != dnsNets:
		fmt.Fprintf(b, "| %s | %s with %d names (a short run: not the target's load) | n/a |\n", rssName, mib(d.Plumb.RSS), d.Names)
	default:
		fmt.Fprintf(b, "| %s, idle after the attaches | %s | %s |\n", rssName, mib(d.Plumb.RSS), verdict(d.Plumb.RSS <= targetDNSRSSkB))
		if d.Plumb.RSSAfter > 0 {
			fmt.Fprintf(b, "| same, right after the load runs | %s (VmHWM %s) | %s |\n", mib(d.Plumb.RSSAfter), mib(d.Plumb.HWMAfter), verdict(d.Plumb.RSSAfter <= targetDNSRSSkB))
		}
	}
}

// dnsSection writes the DNS benchmark's section.
func (r *Report) dnsSection(b *strings.Builder) {
	d, p := r.Results.DNS, r.Plan
	if d == nil && !p.runs("dns") {
		return // not chosen with -only: not "stopped before it"
	}
	fmt.Fprintf(b, "\n## DNS: plumb's daemon against aardvark-dns and Docker's embedded DNS\n\n")
	if d == nil {
		fmt.Fprintf(b, "Not run (the run stopped before it).\n")
		return
	}
	if d.Skip != "" {
		fmt.Fprintf(b, "%s.\n", d.Skip)
		r.dnsNotes(b)
		return
	}
	per := d.Names / d.Networks
	fmt.Fprintf(b, "plumb's daemon held %d names: %d target namespaces attached to each of %d networks "+
		"(dnsbench, dnsbench-2 … dnsbench-%d; subnets 10.243.0.0/24 … 10.243.%d.0/24), in a daemon started by the first "+
		"attach with PLUMB_DNS_UPSTREAM=none (checked in its /proc/PID/environ): it forwards nothing. ",
		d.Names, per, d.Networks, d.Networks, d.Networks-1)
	fmt.Fprintf(b, "The client is %s (%s, on dnsbench); the query file lists the %d names of dnsbench (`%s1 A` … `%s%d A`), "+
		"and before each load every name was asked once and answered NOERROR with the address plumb gave it. ",
		d.Client, d.ClientIP, d.QueryNames, p.Prefix, p.Prefix, d.QueryNames)
	if d.AardvarkSkip == "" {
		fmt.Fprintf(b, "Then plumb's networks were removed and aardvark-dns served the same %d names with the same addresses "+
			"as netavark configures it: a bridge in the bench netns holding plumb's gateway address %s, the config file "+
			"`DIR/dnsbench` (`%s %s`, then `ID IPv4  NAME` per name), `aardvark-dns --config DIR -p 53 run`, and the client "+
			"plugged in by a hand-made veth with its same address. Its only upstream, %s (TEST-NET-2), has no route in the "+
			"bench netns (which has no default route; checked), so a forward could only fail at sendto.",
			d.QueryNames, d.Gateway, d.Gateway, aardvarkUpstream, aardvarkUpstream)
	} else {
		fmt.Fprintf(b, "**aardvark-dns skipped: %s.**", d.AardvarkSkip)
	}
	if getRun(d.Perf, "docker.lo") != nil {
		fmt.Fprintf(b, " Docker's embedded DNS served the same %d names last: %d busybox containers on a Docker bridge network, "+
			"each with one of the names as its `--network-alias` and `--dns 127.0.0.1` (so a forward could only reach the "+
			"host's loopback); the same dnsperf and Go client ran inside the first container's netns (entered by its "+
			"/proc/PID/ns/net) against 127.0.0.11, which Docker DNATs to dockerd's listener there, and its server CPU is dockerd's.",
			d.QueryNames, d.DockerNames)
	} else if d.DockerSkip != "" {
		fmt.Fprintf(b, " **Docker's embedded DNS skipped: %s.**", d.DockerSkip)
	}
	fmt.Fprintf(b, " One server at a time, same tools; plumb and aardvark-dns from the same client namespace and source address; server CPU is the "+
		"server's user+sys time over the run, in cores (the VM has %d, shared by server and client: when they add up to "+
		"about %d the machine is saturated and qps per server core is the fairer comparison).\n", r.Meta.CPUs, r.Meta.CPUs)

	fmt.Fprintf(b, "\n### dnsperf: `dnsperf -s SERVER -d QUERYFILE -l %d -c %d -v`\n\n", d.Secs, d.Workers)
	fmt.Fprintf(b, "dnsperf keeps up to 100 queries in flight (its default `-q`), so the server is saturated and latency is "+
		"mostly queueing (avg ≈ 100 / qps). Percentiles are nearest-rank over every query's latency, which `-v` prints.\n\n")
	dnsTable(b, d.Perf, "dnsperf CPU")
	fmt.Fprintf(b, "\n### Go client: %d workers, one query in flight each, %d s\n\n", d.Workers, d.Secs)
	fmt.Fprintf(b, "A closed loop in the bench process: each worker has its own UDP socket made in %s, sends a query, "+
		"waits for its answer (lost after %s) and sends the next, cycling through the same names; latency is write to "+
		"read. Four queries in flight at most: this is the latency of a lightly queued server, not a saturated one.\n\n",
		d.Client, goClientTimeout)
	dnsTable(b, d.Go, "client CPU")

	fmt.Fprintf(b, "\n### Memory (/proc/PID/status)\n\n| process | names | VmRSS | VmHWM |\n| --- | --- | ---: | ---: |\n")
	if d.Plumb.RSS > 0 {
		fmt.Fprintf(b, "| plumb daemon, idle after the attaches | %d on %d networks | %s | %s |\n", d.Names, d.Networks, mib(d.Plumb.RSS), mib(d.Plumb.HWM))
	}
	if d.Plumb.RSSAfter > 0 {
		fmt.Fprintf(b, "| plumb daemon, after its load runs | %d on %d networks | %s | %s |\n", d.Names, d.Networks, mib(d.Plumb.RSSAfter), mib(d.Plumb.HWMAfter))
	}
	if d.Aardvark.RSSAfter > 0 {
		fmt.Fprintf(b, "| aardvark-dns, after its load runs | %d on 1 network | %s | %s |\n", d.QueryNames, mib(d.Aardvark.RSSAfter), mib(d.Aardvark.HWMAfter))
	}
	if s := r.Results.get("dns.attach"); s != nil && len(s.Samples) > 0 {
		var total time.Duration
		for _, x := range s.Samples {
			total += x.Wall
		}
		m := s.Summarize()
		fmt.Fprintf(b, "\nSetup: the %d attaches took %.1f s in all (p50 %s, p99 %s).\n", m.N, total.Seconds(), ms(m.P50), ms(m.P99))
	}
	r.dnsNotes(b)
}

// dnsNotes lists the DNS benchmark's notes.
func (r *Report) dnsNotes(b *strings.Builder) {
	notes := append([]string{}, r.Plan.DNSSetup...)
	if d := r.Results.DNS; d != nil {
		notes = append(notes, d.Notes...)
	}
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(b)
	for _, n := range notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
}

// dnsTable writes one table of load runs, with the ratios of plumb's to
// aardvark-dns's and Docker's figures.
func dnsTable(b *strings.Builder, runs []DNSRun, clientCPU string) {
	fmt.Fprintf(b, "| server | qps | avg | p50 | p99 | p99.9 | max | answered NOERROR / sent | server CPU | qps per server core | %s |\n", clientCPU)
	fmt.Fprintf(b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, x := range runs {
		fmt.Fprintf(b, "| %s | %.0f | %s | %s | %s | %s | %s | %d / %d | %s | %s | %s |\n", x.Server, x.QPS,
			dms(x.Avg), dms(x.P50), dms(x.P99), dms(x.P999), dms(x.Max), x.NoError, x.Sent,
			cores(x.ServerCPU, x.Wall), perCore(x), cores(x.ClientCPU, x.Wall))
	}
	if getRun(runs, "docker.lo") == nil {
		fmt.Fprintf(b, "| Docker's embedded DNS | not measured | | | | | | | | | |\n")
	}
	for _, k := range []struct{ key, peer, label string }{
		{"plumb.lo", "aardvark.gw", "ratio plumb @127.0.0.11 / aardvark-dns"},
		{"plumb.gw", "aardvark.gw", "ratio plumb @gateway / aardvark-dns"},
		{"plumb.lo", "docker.lo", "ratio plumb @127.0.0.11 / Docker's embedded DNS"},
	} {
		pl, av := getRun(runs, k.key), getRun(runs, k.peer)
		if pl == nil || av == nil {
			continue
		}
		f := func(x, y time.Duration) string { return fmt.Sprintf("%.2f", float64(x)/float64(y)) }
		eff := ""
		if pl.ServerCPU > 0 && av.ServerCPU > 0 {
			eff = fmt.Sprintf("%.2f", (float64(pl.Completed)/pl.ServerCPU.Seconds())/(float64(av.Completed)/av.ServerCPU.Seconds()))
		}
		fmt.Fprintf(b, "| %s | %.2f | %s | %s | %s | %s | | | %.2f | %s | |\n", k.label, pl.QPS/av.QPS,
			f(pl.Avg, av.Avg), f(pl.P50, av.P50), f(pl.P99, av.P99), f(pl.P999, av.P999),
			float64(pl.ServerCPU)/float64(av.ServerCPU), eff)
	}
}

// perCore is the run's answered queries per second of server CPU time.
func perCore(x DNSRun) string {
	if x.ServerCPU <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f", float64(x.Completed)/x.ServerCPU.Seconds())
}

// dms formats a DNS latency in milliseconds, to the microsecond.
func dms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// mib formats kB as MiB.
func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

// cores is cpu over wall, in CPUs.
func cores(cpu, wall time.Duration) string {
	if wall <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", float64(cpu)/float64(wall))
}
