package main

import (
	"fmt"
	"strings"
	"time"
)

// dataMetric is one column of the data-path tables: a kind of run and what
// to read from it.
type dataMetric struct {
	kind, head string
	f          func(DataRun) float64
	format     func(float64) string
}

var dataMetrics = []dataMetric{
	{kindIperf, "iperf3 throughput", func(r DataRun) float64 { return r.Bps }, gbps},
	{kindHTTP1, "requests/s, 1 at a time", func(r DataRun) float64 { return reqRate(r) }, rate},
	{kindHTTP1, "p50", func(r DataRun) float64 { return float64(r.HTTP.P50) }, durf},
	{kindHTTP1, "p99", func(r DataRun) float64 { return float64(r.HTTP.P99) }, durf},
	{kindHTTPN, fmt.Sprintf("requests/s, %d in parallel", httpConc), func(r DataRun) float64 { return reqRate(r) }, rate},
	{kindHTTPN, "p99", func(r DataRun) float64 { return float64(r.HTTP.P99) }, durf},
}

func reqRate(r DataRun) float64 {
	if r.HTTP.Wall <= 0 {
		return 0
	}
	return float64(r.HTTP.Requests) / r.HTTP.Wall.Seconds()
}

func gbps(x float64) string { return fmt.Sprintf("%.2f Gbit/s", x/1e9) }
func rate(x float64) string { return fmt.Sprintf("%.0f", x) }
func durf(x float64) string { return fmt.Sprintf("%.3f ms", x/float64(time.Millisecond)) }

// dataSections writes the container-to-container and published-port tables.
func (r *Report) dataSections(b *strings.Builder) {
	d := r.Results.Data
	if !r.Plan.runs("datapath") {
		return
	}
	fmt.Fprintf(b, "\n## Data path: container to container\n\n")
	if d == nil {
		fmt.Fprintf(b, "Not run (the run stopped before it).\n")
		return
	}
	fmt.Fprintf(b, "iperf3 (one TCP stream, %d s) and short HTTP requests (a Go client; every request a new TCP "+
		"connection, as curl makes it; a Go server answering `hello world`) from one endpoint to the other. The same "+
		"binaries run in every setup, started straight inside each namespace (a Docker container's from its "+
		"/proc/PID/ns/net). The setups take turns, run by run; each figure is the median of %d round(s)%s.\n\n",
		d.Secs, d.Rounds, spreadNote(d.Rounds))
	r.dataTable(b, []string{"veth", "plumb", "docker"}, [][2]string{{"plumb", "docker"}, {"plumb", "veth"}}, false)
	fmt.Fprintf(b, "\n## Published port from localhost\n\n")
	fmt.Fprintf(b, "The same clients against a port published on 127.0.0.1: plumb's (`plumb attach -p "+
		"127.0.0.1:%d:%d -p 127.0.0.1:%d:%d`, reached from the bench netns's own localhost) and Docker's "+
		"(`docker run -p 127.0.0.1::%d -p 127.0.0.1::%d`, reached from the real host's localhost, where "+
		"docker-proxy serves it). Both bind 127.0.0.1 so that nothing is exposed beyond the machine.\n\n",
		plumbIperfPort, iperfPort, plumbHTTPPort, httpPort, iperfPort, httpPort)
	r.dataTable(b, []string{"plumb-port", "docker-port"}, [][2]string{{"plumb-port", "docker-port"}}, true)
	for _, n := range d.Notes {
		fmt.Fprintf(b, "\n%s\n", n)
	}
}

func spreadNote(rounds int) string {
	if rounds > 1 {
		return ", the lowest and highest in brackets"
	}
	return ""
}

// dataTable writes one data-path table: a row per setup, then ratio rows.
func (r *Report) dataTable(b *strings.Builder, setups []string, ratios [][2]string, proxy bool) {
	d := r.Results.Data
	fmt.Fprintf(b, "| setup | path |")
	for _, m := range dataMetrics {
		fmt.Fprintf(b, " %s |", m.head)
	}
	if proxy {
		fmt.Fprintf(b, " docker-proxy CPU during iperf3 |")
	}
	fmt.Fprintf(b, "\n| --- | --- |%s", strings.Repeat(" ---: |", len(dataMetrics)))
	if proxy {
		fmt.Fprintf(b, " ---: |")
	}
	fmt.Fprintln(b)
	label := map[string]DataSetup{}
	for _, s := range d.Setups {
		label[s.Key] = s
	}
	for _, key := range setups {
		s, ok := label[key]
		if !ok {
			why := d.Skips[key]
			if why == "" {
				why = "not set up"
			}
			fmt.Fprintf(b, "| %s | %s |%s\n", key, why, strings.Repeat(" |", len(dataMetrics)))
			continue
		}
		fmt.Fprintf(b, "| %s | %s |", s.Label, s.Path)
		for _, m := range dataMetrics {
			med, lo, hi, n := d.median(key, m.kind, m.f)
			switch {
			case n == 0:
				msg := d.runErr(key, m.kind)
				if msg == "" {
					msg = "not measured"
				}
				fmt.Fprintf(b, " %s |", shorten(msg, 80))
			case n > 1:
				fmt.Fprintf(b, " %s (%s–%s) |", m.format(med), m.format(lo), m.format(hi))
			default:
				fmt.Fprintf(b, " %s |", m.format(med))
			}
		}
		if proxy {
			if key == "docker-port" {
				med, _, _, n := d.median(key, kindIperf, func(x DataRun) float64 { return x.ProxyCPU.Seconds() / float64(d.Secs) })
				if n > 0 {
					fmt.Fprintf(b, " %.2f cores |", med)
				} else {
					fmt.Fprintf(b, " – |")
				}
			} else {
				fmt.Fprintf(b, " (none: the kernel forwards) |")
			}
		}
		fmt.Fprintln(b)
	}
	for _, q := range ratios {
		fmt.Fprintf(b, "| ratio %s / %s | |", label[q[0]].Label, labelOr(label, q[1]))
		for _, m := range dataMetrics {
			x, _, _, n1 := d.median(q[0], m.kind, m.f)
			y, _, _, n2 := d.median(q[1], m.kind, m.f)
			if n1 == 0 || n2 == 0 || y == 0 {
				fmt.Fprintf(b, " |")
				continue
			}
			fmt.Fprintf(b, " %.2f |", x/y)
		}
		if proxy {
			fmt.Fprintf(b, " |")
		}
		fmt.Fprintln(b)
	}
}

func labelOr(m map[string]DataSetup, key string) string {
	if s, ok := m[key]; ok {
		return s.Label
	}
	return key
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// dataTargets writes the data-path rows of the targets table.
func (r *Report) dataTargets(b *strings.Builder) {
	d := r.Results.Data
	row := func(name, a, bk, kind string, f func(DataRun) float64, format func(float64) string, limit float64) {
		if d == nil {
			fmt.Fprintf(b, "| %s | not measured | n/a |\n", name)
			return
		}
		x, _, _, n1 := d.median(a, kind, f)
		y, _, _, n2 := d.median(bk, kind, f)
		if n1 == 0 || n2 == 0 || y == 0 {
			why := "not measured"
			if s := d.Skips[bk]; s != "" {
				why = "Docker not measured: " + s
			} else if e := d.runErr(bk, kind) + d.runErr(a, kind); e != "" {
				why = shorten(e, 120)
			}
			fmt.Fprintf(b, "| %s | %s | n/a |\n", name, why)
			return
		}
		q := x / y
		fmt.Fprintf(b, "| %s | %.2fx (%s / %s) | %s |\n", name, q, format(x), format(y), verdict(q >= limit))
	}
	bps := func(r DataRun) float64 { return r.Bps }
	row(fmt.Sprintf("container-to-container throughput >= %.2fx Docker's bridge network (iperf3)", targetC2CVsDocker),
		"plumb", "docker", kindIperf, bps, gbps, targetC2CVsDocker)
	row(fmt.Sprintf("localhost to published port throughput >= %.1fx Docker's -p (iperf3)", targetPortVsDocker),
		"plumb-port", "docker-port", kindIperf, bps, gbps, targetPortVsDocker)
	row(fmt.Sprintf("localhost to published port request rate >= %.1fx Docker's -p (%d in parallel)", targetPortVsDocker, httpConc),
		"plumb-port", "docker-port", kindHTTPN, reqRate, rate, targetPortVsDocker)
	row(fmt.Sprintf("same, 1 request at a time >= %.1fx", targetPortVsDocker),
		"plumb-port", "docker-port", kindHTTP1, reqRate, rate, targetPortVsDocker)
}
