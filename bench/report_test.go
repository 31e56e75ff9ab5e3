package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var chartsDir = flag.String("charts", "", "also write the test's charts to this directory, to look at them")

// fakeReport is a report over made-up results of every section.
func fakeReport() *Report {
	p := &Plan{Config: Config{Samples: 3, Levels: []int{1, 100, 500, 1000}, Burst: 200, DataSecs: 3, Rounds: 2, DNS: true},
		Host: "plumb-bench-1", Prefix: "bt1-", Label: "1"}
	res := &Results{}
	ms := func(x float64) Sample {
		return Sample{Wall: time.Duration(x * float64(time.Millisecond)), CPU: time.Millisecond}
	}
	for k, t := range levelTools {
		for _, l := range p.Levels {
			for _, op := range []string{"attach", "detach"} {
				base := float64(10*(k+1)) + float64(l)/100
				res.add(&Series{Key: latKey(t, op, l), Tool: toolLabel(t), Op: op}).Samples = []Sample{ms(base), ms(base + 1), ms(base + 2)}
			}
		}
	}
	fill := res.add(&Series{Key: "fill.plumb", Tool: "plumb", Op: "fill"})
	for i := range 100 {
		fill.Samples = append(fill.Samples, ms(8+float64(i%7)))
	}
	for _, k := range []string{"burst.plumb.attach", "burst.plumb.detach", "burst.cni.attach", "burst.cni.detach",
		"ports.attach.none", "ports.attach.one", "ports.detach.none", "ports.detach.one"} {
		res.add(&Series{Key: k, Tool: "x", Op: k}).Samples = []Sample{ms(5), ms(9)}
	}
	for k, x := range map[string]float64{"floor.true": 0.7, "floor.hello": 1.4, "floor.plumb": 2.0} {
		res.add(&Series{Key: k, Tool: "process", Op: k}).Samples = []Sample{ms(x), ms(x + 0.1), ms(x + 5)}
	}
	res.Bursts = []*BurstRun{{Tool: "plumb", N: 200, Wall: time.Second}, {Tool: "CNI bridge+host-local", N: 200, Wall: 4 * time.Second, Dups: 1}}
	res.DNS = &DNSResults{Names: 1000, Networks: dnsNets,
		Perf: []DNSRun{{Key: "plumb.lo", Server: "plumb daemon @127.0.0.11 (in the client's netns)", QPS: 80000},
			{Key: "aardvark.gw", Server: "aardvark-dns @10.243.0.1 (gateway)", QPS: 40000}},
		Go: []DNSRun{{Key: "plumb.lo", Server: "plumb daemon @127.0.0.11", QPS: 39000}}}
	d := &DataResults{Secs: 3, Rounds: 2, Skips: map[string]string{}}
	for _, s := range []string{"veth", "plumb", "docker", "plumb-port", "docker-port"} {
		d.Setups = append(d.Setups, DataSetup{Key: s, Label: s, Path: "a -> b"})
		for r := 1; r <= 2; r++ {
			d.Runs = append(d.Runs,
				DataRun{Setup: s, Kind: kindIperf, Round: r, Bps: 1e10 * float64(r)},
				DataRun{Setup: s, Kind: kindHTTP1, Round: r, HTTP: HTTPLoad{Requests: 3000, Wall: time.Second, P50: time.Millisecond}},
				DataRun{Setup: s, Kind: kindHTTPN, Round: r, Err: "connection refused"})
		}
	}
	res.Data = d
	return &Report{Plan: p, Results: res, Meta: Meta{CPUs: 2, LoadStart: "0.1", LoadEnd: "0.2"}}
}

// TestChartsAndReport draws every chart from made-up results, checks each
// is a PNG, and renders the report with links to them.
func TestChartsAndReport(t *testing.T) {
	r := fakeReport()
	dir := t.TempDir()
	if *chartsDir != "" {
		dir = *chartsDir
	}
	r.Charts = writeCharts(r, dir)
	if len(r.Charts) != 5 {
		t.Fatalf("got %d charts, want 5: %+v", len(r.Charts), r.Charts)
	}
	for _, c := range r.Charts {
		b, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n")) {
			t.Errorf("%s is not a PNG: %v", c.File, err)
		}
	}
	md := r.Markdown()
	for _, want := range []string{
		"](attach-latency.png)",
		"| attach p50 at 1000 / at 1 <= 1.2 | 1.91 (21.00 ms / 11.01 ms) | MISS |",
		"| burst of 200: wall time <= 0.3x CNI reference | 0.25 (1000.00 ms / 4000.00 ms) | PASS |",
		"| localhost to published port request rate >= 1.5x Docker's -p (8 in parallel) | connection refused",
		"10.00 Gbit/s (10.00 Gbit/s–20.00 Gbit/s)",
		"| plumb ps floor p50 <= 1.5x Go hello world floor (start-up, interleaved) | 1.40 (2.10 ms / 1.50 ms) | PASS |",
		"| process floor: Go hello world (fmt.Println; CGO_ENABLED=0, -trimpath, built by the bench) | 1.50 ms |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestReportEmpty renders a report of a run that measured nothing.
func TestReportEmpty(t *testing.T) {
	r := &Report{Plan: &Plan{Config: Config{Levels: []int{1}}}, Results: &Results{Error: "interrupted"}}
	md := r.Markdown()
	if !strings.Contains(md, "INCOMPLETE RUN: interrupted") {
		t.Errorf("an empty report does not say it is incomplete:\n%s", md)
	}
	if got := writeCharts(r, t.TempDir()); len(got) != 0 {
		t.Errorf("charts drawn from no results: %+v", got)
	}
}

func TestParseLevels(t *testing.T) {
	for in, ok := range map[string]bool{"1,100,500,1000": true, "1": true, "100,1": false, "0,5": false, "1,1024": false, "x": false} {
		if _, err := parseLevels(in); (err == nil) != ok {
			t.Errorf("parseLevels(%q): %v, want ok=%v", in, err, ok)
		}
	}
}
