package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is what the user chose, from flags and the environment.
type Config struct {
	Samples  int    // attach/detach samples per tool at each level
	CNIN     int    // CNI ADDs then DELs, plumb and the reference interleaved
	Levels   []int  // endpoint counts the samples are taken at
	Burst    int    // attaches started at once in the burst test
	Plumb    string // plumb binary
	Out      string // report path; the charts go beside it
	CNIDir   string // where the CNI plugins live
	Netavark string // netavark binary
	Docker   bool   // run the Docker peers (latency, data path, published port)
	NoIPv6   bool   // disable IPv6 in the host netns and every target namespace before the run

	DataSecs int // length of each iperf3 and request-rate run, in seconds
	Rounds   int // data-path rounds; each setup is measured once per round, interleaved

	TruthN      int    // truth section: samples of each of ps, baseline ps and doctor
	Baseline    string // truth section: git revision of plumb before issue 13, built by the supervisor
	BaselineBin string // truth section: a baseline binary given instead of building Baseline

	SeeN int // see section: rounds of inspect and explain, then of graph

	RepairN       int           // repair section: rounds of each drift
	RepairBound   time.Duration // repair section: the longest wait for an answer after a drift
	RepairPace    int           // repair section: at most this many drifts of one kind a minute; 0: no limit
	RepairIdle    int           // repair section: the idle daemon's CPU window, in seconds
	RepairBoots   int           // repair section: simulated reboots
	RepairDockerN int           // repair section: docker restarts of each container

	DNS      bool // run the DNS benchmark (plumb's daemon against aardvark-dns)
	DNSNames int  // names the daemon holds, over dnsNets networks
	DNSSecs  int  // length of each DNS load run, in seconds

	Only []string // sections to run; empty: all
}

// sections are the parts of the run -only can choose, in run order.
var sections = []string{"floors", "latency", "burst", "ports", "cni", "truth", "see", "repair", "dns", "datapath", "nft", "ipv6", "overlay"}

// repairParts are the parts of the repair section -only can choose alone.
var repairParts = []string{"repair-one", "repair-scale", "repair-docker"}

// runs reports whether section s is part of this run. "repair" runs when
// any of its parts does, and each part when "repair" was chosen.
func (c *Config) runs(s string) bool {
	switch {
	case len(c.Only) == 0 || slices.Contains(c.Only, s):
		return true
	case s == "repair":
		return slices.ContainsFunc(c.Only, func(x string) bool { return slices.Contains(repairParts, x) })
	case slices.Contains(repairParts, s):
		return slices.Contains(c.Only, "repair")
	}
	return false
}

// maxBridgePorts is how many ports a Linux bridge can hold (port numbers
// 1..1023, BR_MAX_PORTS-1 in net/bridge/br_private.h); the next
// `ip link set X master BR` fails with EXFULL ("exchange full").
const maxBridgePorts = 1023

// parseConfig reads the flags; BENCH_QUICK=1 changes the defaults to a short run.
func parseConfig(args []string) (Config, error) {
	c := Config{Samples: 100, Levels: []int{1, 100, 500, 1000}, Burst: 200, Docker: true,
		DataSecs: 3, Rounds: 5, DNS: true, DNSNames: 1000, DNSSecs: 10, CNIN: 200,
		TruthN: 40, Baseline: defaultBaseline, SeeN: 30,
		RepairN: 50, RepairBound: 10 * time.Second, RepairPace: 5, RepairIdle: 60, RepairBoots: 3, RepairDockerN: 20}
	levels := "1,100,500,1000"
	if os.Getenv("BENCH_QUICK") == "1" {
		c.Samples, levels = 20, "1,100"
		c.CNIN = 50
		c.DataSecs, c.Rounds = 2, 1
		c.DNSNames, c.DNSSecs = 100, 5
		c.TruthN = 10
		c.SeeN = 5
		c.RepairN, c.RepairIdle, c.RepairBoots, c.RepairDockerN = 5, 10, 1, 3
	}
	var only string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&c.Samples, "n", c.Samples, "attach/detach samples per tool at each level (BENCH_QUICK=1: 20)")
	fs.IntVar(&c.CNIN, "cni-n", c.CNIN, "plumb CNI ADDs then DELs, each followed by the reference plugins' (BENCH_QUICK=1: 50)")
	fs.StringVar(&levels, "levels", levels, "endpoint counts to time attach and detach at, ascending (BENCH_QUICK=1: 1,100)")
	fs.IntVar(&c.Burst, "burst", c.Burst, "attaches started at once in the burst test")
	fs.StringVar(&c.Plumb, "plumb", "bin/plumb", "plumb binary")
	fs.StringVar(&c.Out, "out", "bench/results/REPORT.md", "markdown report to write; the PNG charts go in the same directory")
	fs.StringVar(&c.CNIDir, "cni", "/usr/lib/cni", "directory of the CNI reference plugins (bridge, host-local)")
	fs.StringVar(&c.Netavark, "netavark", "/usr/lib/podman/netavark", "netavark binary")
	fs.BoolVar(&c.Docker, "docker", c.Docker, "run the Docker peers: docker network connect/disconnect, two containers on a Docker bridge network, docker run -p")
	fs.BoolVar(&c.NoIPv6, "no-ipv6", false, "an experiment: disable IPv6 in the throwaway host netns (so bridge ports get no link-local address and route) and in every target namespace (as Docker does in containers on IPv4-only networks), to see what IPv6 costs attach as the network fills")
	fs.IntVar(&c.DataSecs, "data-secs", c.DataSecs, "length of each iperf3 and request-rate run, in seconds (BENCH_QUICK=1: 2)")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "data-path rounds, every setup measured once per round (BENCH_QUICK=1: 1)")
	fs.BoolVar(&c.DNS, "dns", c.DNS, "run the DNS benchmark: plumb's daemon against aardvark-dns, with dnsperf (installed with apt-get when missing)")
	fs.IntVar(&c.DNSNames, "dns-names", c.DNSNames, fmt.Sprintf("names (target namespaces) the daemon holds in the DNS benchmark, over %d networks (BENCH_QUICK=1: 100)", dnsNets))
	fs.IntVar(&c.DNSSecs, "dns-secs", c.DNSSecs, "length of each DNS load run, in seconds (BENCH_QUICK=1: 5)")
	fs.IntVar(&c.TruthN, "truth-n", c.TruthN, fmt.Sprintf("truth section: samples of plumb ps, the baseline's ps and plumb doctor at %d networks / %d endpoints, taking turns (BENCH_QUICK=1: 10)", truthNets, truthNets*truthPerNet))
	fs.StringVar(&c.Baseline, "baseline", c.Baseline, "truth section: the git revision of plumb before issue 13, whose ps plumb's is compared with; the bench builds it from this repository into its temp dir (`git archive`, `go build`) and removes it at the end")
	fs.StringVar(&c.BaselineBin, "baseline-bin", "", "truth section: a baseline plumb binary to use instead of building -baseline")
	fs.IntVar(&c.SeeN, "see-n", c.SeeN, fmt.Sprintf("see section: rounds of plumb inspect and explain at %d endpoints, then of plumb graph (text, dot, svg) at %d, taking turns (BENCH_QUICK=1: 5)", seeSmallNets*seePerNet, seeNets*seePerNet))
	fs.IntVar(&c.RepairN, "repair-n", c.RepairN, "repair section: rounds of each drift (flush, bridge deleted; flush at scale) (BENCH_QUICK=1: 5)")
	fs.DurationVar(&c.RepairBound, "repair-bound", c.RepairBound, "repair section: the longest wait for what a drift broke to answer again; a round not answered by then is a miss (a reboot's wait: 6 times this)")
	fs.IntVar(&c.RepairPace, "repair-pace", c.RepairPace, "repair section: at most this many drifts of one kind in any minute, so that the daemon's loop guard (more than 5 repairs of the same drift a minute: back off) does not apply; 0: no limit, to see the back-off")
	fs.IntVar(&c.RepairIdle, "repair-idle", c.RepairIdle, fmt.Sprintf("repair section: seconds over which the idle daemon's CPU is read, at %d networks / %d endpoints (BENCH_QUICK=1: 10)", repairNets, repairNets*repairPerNet))
	fs.IntVar(&c.RepairBoots, "repair-boots", c.RepairBoots, fmt.Sprintf("repair section: simulated reboots of %d endpoints (BENCH_QUICK=1: 1)", repairNets*repairPerNet))
	fs.IntVar(&c.RepairDockerN, "repair-docker-n", c.RepairDockerN, "repair section: `docker restart`s of each of the two containers, taking turns (BENCH_QUICK=1: 3)")
	fs.StringVar(&only, "only", "", "run only these sections, comma-separated, of: "+strings.Join(sections, ",")+
		", or parts of repair: "+strings.Join(repairParts, ",")+" (the report goes to bench/results/REPORT-SECTIONS.md unless -out is given)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.Levels, err = parseLevels(levels); err != nil {
		return c, err
	}
	if only != "" {
		c.Only = strings.Split(only, ",")
		for _, s := range c.Only {
			if !slices.Contains(sections, s) && !slices.Contains(repairParts, s) {
				return c, fmt.Errorf("-only %q: unknown section %q (choose from %s)", only, s, strings.Join(append(sections, repairParts...), ","))
			}
		}
		if slices.Contains(c.Only, "dns") {
			c.DNS = true
		}
		outSet := false
		fs.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
		if !outSet {
			c.Out = "bench/results/REPORT-" + strings.Join(c.Only, "-") + ".md"
		}
	}
	if c.Samples < 1 || c.Levels[len(c.Levels)-1]+c.Samples > 4000 {
		return c, fmt.Errorf("-n must be at least 1, and the highest level plus -n at most 4000 (namespaces per tool)")
	}
	if c.Burst < 1 || c.Burst > maxBridgePorts {
		return c, fmt.Errorf("-burst must be 1..%d (a Linux bridge holds at most %d ports)", maxBridgePorts, maxBridgePorts)
	}
	if c.RepairN < 1 || c.RepairBound < 100*time.Millisecond || c.RepairPace < 0 || c.RepairIdle < 1 || c.RepairBoots < 0 || c.RepairDockerN < 0 {
		return c, fmt.Errorf("-repair-n and -repair-idle must be at least 1, -repair-bound at least 100ms, -repair-pace, -repair-boots and -repair-docker-n at least 0")
	}
	if c.TruthN < 1 || c.SeeN < 1 {
		return c, fmt.Errorf("-truth-n and -see-n must be at least 1")
	}
	if c.Baseline == "" && c.BaselineBin == "" {
		return c, fmt.Errorf("-baseline is empty: give a git revision, or a binary with -baseline-bin")
	}
	if c.DataSecs < 1 || c.Rounds < 1 {
		return c, fmt.Errorf("-data-secs and -rounds must be at least 1")
	}
	if c.DNS && (c.DNSNames < dnsNets || c.DNSNames%dnsNets != 0 || c.DNSNames > dnsNets*250) {
		return c, fmt.Errorf("-dns-names must be a multiple of %d, %d..%d (one /24 per network)", dnsNets, dnsNets, dnsNets*250)
	}
	if c.DNS && c.DNSSecs < 1 {
		return c, fmt.Errorf("-dns-secs must be at least 1")
	}
	return c, nil
}

// parseLevels reads -levels: ascending endpoint counts, each at least 1 and
// at most maxBridgePorts (the sample at level L is the L-th port on the bridge).
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxBridgePorts {
			return nil, fmt.Errorf("-levels %q: %q is not an endpoint count 1..%d", s, f, maxBridgePorts)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("-levels %q: levels must be ascending", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// Plan is what the supervisor hands the worker, as JSON in a file named by
// $BENCH_PLAN.
type Plan struct {
	Config
	Host          string // name of the throwaway "host" netns plumb runs in
	Prefix        string // plumb's target namespaces are Prefix1..PrefixNamespaces
	Namespaces    int
	Peers         []PeerNS // the CNI and netavark peers' own host netns and targets
	TmpDir        string   // plumb's state dir, CNI's data dir and the logs live here
	CNISkip       string   // why the CNI peer is skipped; "" to run it
	NetavarkSkip  string   // why the netavark peer is skipped; "" to run it
	DockerSkip    string   // why the Docker peers are skipped; "" to run them
	Hello         string   // the Go hello world of the process floors, built into TmpDir; "": not built
	HelloSkip     string   // why there is no hello world floor
	DockerImage   string   // the offline busybox image the Docker containers run
	DockerSubnets []string // the Docker networks': level test, its anchor, data path, DNS, repair
	Label         string   // org.plumbnet.bench=Label marks every Docker object of this run

	BaselinePlumb string // the truth section's baseline plumb, built into TmpDir or -baseline-bin; "": none
	BaselineSkip  string // why there is no baseline plumb
	BaselineWhat  string // what the baseline is, for the report

	DNSSkip      string   // why the DNS benchmark cannot run (no dnsperf); "" to run it
	AardvarkSkip string   // why the aardvark-dns peer is skipped; "" to run it
	DNSSetup     []string // what the supervisor installed, and the tools' versions
	Results      string   // where the worker writes its Results
}

// PeerNS is a peer tool's own throwaway host netns and its target
// namespaces Prefix1..PrefixN: each tool fills its own bridge in its own
// netns, so that no tool's links or rules weigh on another's calls.
type PeerNS struct {
	Tool, Host, Prefix string
	N                  int
}

// target returns the name of the i-th target namespace, from 1.
func (p *Plan) target(i int) string { return fmt.Sprintf("%s%d", p.Prefix, i) }

// peer returns the namespaces of tool ("cni", "netavark").
func (p *Plan) peer(tool string) PeerNS {
	for _, x := range p.Peers {
		if x.Tool == tool {
			return x
		}
	}
	return PeerNS{}
}

// target returns the name of the peer's i-th target namespace, from 1.
func (x PeerNS) target(i int) string { return fmt.Sprintf("%s%d", x.Prefix, i) }

// maxLevel is the highest level of the run.
func (c *Config) maxLevel() int { return c.Levels[len(c.Levels)-1] }

// sampleBase is the index after the last fill target: the samples at every
// level use targets sampleBase+1..sampleBase+Samples.
func (c *Config) sampleBase() int { return c.maxLevel() - 1 }
