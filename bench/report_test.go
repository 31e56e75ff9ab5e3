package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
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
	for k, x := range map[string]float64{"truth.ps": 100, "truth.ps.baseline": 40, "truth.doctor": 800} {
		res.add(&Series{Key: k, Tool: "plumb", Op: k}).Samples = []Sample{ms(x - 1), ms(x), ms(x + 1)}
	}
	res.Truth = &TruthResults{Networks: truthNets, Endpoints: truthNets * truthPerNet, States: map[string]int{"up": 1000},
		StatesAfter: map[string]int{"up": 999, "broken": 1}, Odd: []string{"bt1-7 on truth-1: broken (missing: veth)"},
		BaselineListed: 1000, DoctorExits: map[int]int{0: 3}, Doctored: true, DoctorExit: 1,
		Findings: []TruthFinding{{Check: "ip-forward", Severity: "problem", Subject: "host", What: "ip_forward is 0"}}}
	p.BaselinePlumb, p.BaselineWhat = "/tmp/x/plumb-baseline", "17695de (bench results)"
	p.SeeN = 3
	for k, x := range map[string]float64{"see.inspect.100": 40, "see.explain.same.100": 99, "see.explain.other.100": 101,
		"see.inspect.1000": 60, "see.explain.same.1000": 150, "see.graph.text": 300, "see.graph.dot": 400, "see.graph.svg": 999} {
		res.add(&Series{Key: k, Tool: "plumb", Op: k}).Samples = []Sample{ms(x - 1), ms(x), ms(x + 2)}
	}
	res.See = &SeeResults{Small: 100, Large: 1000, Sizes: map[string]int{"text": 61440, "svg": 1 << 20},
		GraphHead: "host (100 networks, 1000 endpoints)",
		Verdicts:  []string{"at 100 endpoints, `plumb explain netns:bt1-11 10.231.0.2:80`: blocked (networks are isolated)"}}
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
		"| plumb ps at 1000 endpoints p50 <= 2x its time before issue 13 | 2.50x (100.00 ms / 40.00 ms, interleaved) | MISS |",
		"| plumb doctor at 100 networks / 1000 endpoints p50 <= 1 s | 800.00 ms (exit 0 in 3 of 3 runs) | PASS |",
		"| ratio plumb ps / the baseline's | 2.50 |",
		"States `plumb ps --format json` gave before the timed rounds: up 1000; after them: broken 1, up 999.",
		"exit 1, 1 finding:\n  - [problem] host (ip-forward): ip_forward is 0",
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

// TestTruthTargetsWithoutBaseline: no baseline, or one that failed, says
// why in the ps row; doctor's non-zero exits stand out.
func TestTruthTargetsWithoutBaseline(t *testing.T) {
	r := fakeReport()
	r.Results.Series = slices.DeleteFunc(r.Results.Series, func(s *Series) bool { return s.Key == "truth.ps.baseline" })
	r.Results.Truth.DoctorExits = map[int]int{0: 1, 1: 2}
	r.Results.Truth.DoctorFails = []string{"round 3, exit 1: [problem] plumb daemon: not answering"}
	r.Plan.BaselinePlumb, r.Plan.BaselineSkip = "", "building -baseline nope: \"nope\" is not a commit"
	var b strings.Builder
	r.truthTargets(&b)
	for _, want := range []string{
		"| no baseline: building -baseline nope",
		"(exit 0 in 1 of 3 runs, **exit 1 in 2 of 3 runs**) | PASS |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("targets lack %q:\n%s", want, b.String())
		}
	}
	if md := r.Markdown(); !strings.Contains(md, "  - `round 3, exit 1: [problem] plumb daemon: not answering`") {
		t.Errorf("the report does not show what a failed doctor run printed:\n%s", md)
	}
	r.Plan.BaselineSkip, r.Results.Truth.BaselineErr = "", "its ps --format json lists 0 endpoints, want 1000"
	b.Reset()
	r.truthTargets(&b)
	if !strings.Contains(b.String(), "| the baseline failed: its ps --format json lists 0 endpoints") {
		t.Errorf("targets do not say the baseline failed:\n%s", b.String())
	}
}

func TestParseConfigTruth(t *testing.T) {
	t.Setenv("BENCH_QUICK", "1")
	c, err := parseConfig([]string{"-only", "truth"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.runs("truth") || c.runs("latency") || c.TruthN != 10 || c.Baseline != defaultBaseline || c.Out != "bench/results/REPORT-truth.md" {
		t.Errorf("-only truth with BENCH_QUICK=1: %+v", c)
	}
	if _, err := parseConfig([]string{"-truth-n", "0"}); err == nil {
		t.Error("-truth-n 0 accepted")
	}
}

// TestDoctorFailed tells a doctor run that failed for this run's own
// state from one that failed only for other processes' /etc/netns files.
func TestDoctorFailed(t *testing.T) {
	p := &Plan{Prefix: "bt42-"}
	tr := &TruthResults{}
	foreign := "[problem] /etc/netns/hcxa1/hosts: lines of endpoint web/ns-1, which no longer exists. X. Fix: remove them.\n" +
		"[problem] /etc/netns/pt9/resolv.conf: points at 127.0.0.11. Y. Fix: remove the file plumb wrote.\n2 problems, 0 notes\n"
	tr.doctorFailed(p, 1, 1, foreign)
	own := "[problem] /etc/netns/bt42-7/hosts: lines of endpoint truth-1/x, which no longer exists. X. Fix: remove them.\n1 problem, 0 notes\n"
	tr.doctorFailed(p, 2, 1, own)
	if tr.DoctorForeign != 1 || len(tr.DoctorFails) != 1 || !strings.HasPrefix(tr.DoctorFails[0], "round 2, exit 1:") ||
		!slices.Equal(tr.Foreign, []string{"/etc/netns/hcxa1/hosts", "/etc/netns/pt9/resolv.conf"}) {
		t.Errorf("doctorFailed: %+v", tr)
	}
}

// TestSeeReport renders the see section's targets and tables: p50 against
// 100 ms at 100 endpoints, graph's p50 against 1 s with its max and the
// runs over it, and a section not measured says so.
func TestSeeReport(t *testing.T) {
	r := fakeReport()
	md := r.Markdown()
	for _, want := range []string{
		"| plumb inspect at 100 endpoints p50 <= 100.00 ms | 40.00 ms | PASS |",
		"| plumb explain (no --probe), same network at 100 endpoints p50 <= 100.00 ms | 99.00 ms | PASS |",
		"| plumb explain (no --probe), from another network at 100 endpoints p50 <= 100.00 ms | 101.00 ms | MISS |",
		"| plumb graph --format text of 1000 endpoints p50 <= 1 s | 300.00 ms (max 302.00 ms) | PASS |",
		"| plumb graph --format svg of 1000 endpoints p50 <= 1 s | 999.00 ms (max 1001.00 ms; **1 of 3 runs over 1 s**) | PASS |",
		"## See: plumb inspect and explain at 100 endpoints, plumb graph at 1000 (issue 15)",
		"| plumb: see.graph.dot | 400.00 ms |",
		"- at 100 endpoints, `plumb explain netns:bt1-11 10.231.0.2:80`: blocked (networks are isolated)",
		"begins `host (100 networks, 1000 endpoints)`; output sizes: text 60.0 KiB, svg 1024.0 KiB.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	r.Results.Series = slices.DeleteFunc(r.Results.Series, func(s *Series) bool { return strings.HasPrefix(s.Key, "see.graph.") })
	var b strings.Builder
	r.seeTargets(&b)
	if !strings.Contains(b.String(), "| plumb graph --format dot of 1000 endpoints p50 <= 1 s | not measured | n/a |") {
		t.Errorf("an unmeasured graph is not said so:\n%s", b.String())
	}
	r.Plan.Only = []string{"truth"}
	if md := r.Markdown(); strings.Contains(md, "## See:") {
		t.Error("the see section is written though -only left it out")
	}
}

func TestParseConfigSee(t *testing.T) {
	t.Setenv("BENCH_QUICK", "")
	c, err := parseConfig([]string{"-only", "see"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.runs("see") || c.runs("truth") || c.SeeN != 30 || c.Out != "bench/results/REPORT-see.md" {
		t.Errorf("-only see: %+v", c)
	}
	t.Setenv("BENCH_QUICK", "1")
	if c, _ := parseConfig([]string{"-only", "see"}); c.SeeN != 5 {
		t.Errorf("-only see with BENCH_QUICK=1: -see-n %d, want 5", c.SeeN)
	}
	if _, err := parseConfig([]string{"-see-n", "0"}); err == nil {
		t.Error("-see-n 0 accepted")
	}
}

func TestCommandLine(t *testing.T) {
	t.Setenv("BENCH_QUICK", "1")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"/tmp/go-build123/b001/exe/bench", "-only", "ipv6"}, "BENCH_QUICK=1 go run ./bench -only ipv6"},
		{[]string{"bin/bench", "-n", "5"}, "BENCH_QUICK=1 bin/bench -n 5"},
	} {
		if got := commandLine(c.args); got != c.want {
			t.Errorf("commandLine(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestPairedRatio(t *testing.T) {
	d := &DataResults{Rounds: 3, Runs: []DataRun{
		{Setup: "a", Kind: kindIperf, Round: 1, Bps: 9}, {Setup: "b", Kind: kindIperf, Round: 1, Bps: 10},
		{Setup: "b", Kind: kindIperf, Round: 2, Bps: 4}, {Setup: "a", Kind: kindIperf, Round: 2, Bps: 5},
		{Setup: "a", Kind: kindIperf, Round: 3, Bps: 1}, {Setup: "b", Kind: kindIperf, Round: 3, Err: "failed"},
	}}
	med, qs := d.pairedRatio("a", "b", kindIperf, func(r DataRun) float64 { return r.Bps })
	if med != 0.9 || len(qs) != 2 || qs[0] != "0.90" || qs[1] != "1.25" {
		t.Errorf("pairedRatio = %v %q, want 0.9 [0.90 1.25] (round 3 left out: b failed)", med, qs)
	}
}
