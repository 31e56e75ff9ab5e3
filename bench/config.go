package main

import (
	"flag"
	"fmt"
	"os"
)

// Config is what the user chose, from flags and the environment.
type Config struct {
	N      int    // namespaces in the attach/detach latency runs
	Fill   int    // endpoints the fill test reaches before its last sample
	Plumb  string // plumb binary
	Out    string // report path
	CNIDir string // where the CNI plugins live
	NoIPv6 bool   // disable IPv6 in the host netns and every target namespace before the run

	DNS      bool // run the DNS benchmark (plumb's daemon against aardvark-dns)
	DNSNames int  // names the daemon holds, over dnsNets networks
	DNSSecs  int  // length of each DNS load run, in seconds

	Only string // "dns": run only the DNS benchmark; "": everything
}

// maxBridgePorts is how many ports a Linux bridge can hold (port numbers
// 1..1023, BR_MAX_PORTS-1 in net/bridge/br_private.h); the next
// `ip link set X master BR` fails with EXFULL ("exchange full").
const maxBridgePorts = 1023

// fillSample is how many attaches make each end of the fill comparison:
// the first ones on an empty network and the ones at the fill level.
const fillSample = 50

// parseConfig reads the flags; BENCH_QUICK=1 changes the defaults to a short run.
func parseConfig(args []string) (Config, error) {
	c := Config{N: 200, Fill: 1000, DNS: true, DNSNames: 1000, DNSSecs: 10}
	if os.Getenv("BENCH_QUICK") == "1" {
		c.N, c.Fill = 50, 300
		c.DNSNames, c.DNSSecs = 100, 5
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&c.N, "n", c.N, "namespaces attached then detached in the latency runs (BENCH_QUICK=1: 50)")
	fs.IntVar(&c.Fill, "fill", c.Fill, "endpoints to fill the network to before the last attaches are timed (BENCH_QUICK=1: 300)")
	fs.StringVar(&c.Plumb, "plumb", "bin/plumb", "plumb binary")
	fs.StringVar(&c.Out, "out", "bench/results/REPORT.md", "markdown report to write")
	fs.StringVar(&c.CNIDir, "cni", "/usr/lib/cni", "directory of the CNI reference plugins (bridge, host-local)")
	fs.BoolVar(&c.NoIPv6, "no-ipv6", false, "an experiment: disable IPv6 in the throwaway host netns (so bridge ports get no link-local address and route) and in every target namespace (as Docker does in containers on IPv4-only networks), to see what IPv6 costs attach as the network fills")
	fs.BoolVar(&c.DNS, "dns", c.DNS, "run the DNS benchmark: plumb's daemon against aardvark-dns, with dnsperf (installed with apt-get when missing)")
	fs.IntVar(&c.DNSNames, "dns-names", c.DNSNames, fmt.Sprintf("names (target namespaces) the daemon holds in the DNS benchmark, over %d networks (BENCH_QUICK=1: 100)", dnsNets))
	fs.IntVar(&c.DNSSecs, "dns-secs", c.DNSSecs, "length of each DNS load run, in seconds (BENCH_QUICK=1: 5)")
	fs.StringVar(&c.Only, "only", "", `run one benchmark alone: "dns" (the report goes to bench/results/REPORT-dns.md unless -out is given)`)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch c.Only {
	case "":
	case "dns":
		c.DNS = true
		outSet := false
		fs.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
		if !outSet {
			c.Out = "bench/results/REPORT-dns.md"
		}
	default:
		return c, fmt.Errorf("-only %q: the only choice is \"dns\"", c.Only)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.N < 1 || c.N > maxBridgePorts {
		return c, fmt.Errorf("-n must be 1..%d (a Linux bridge holds at most %d ports)", maxBridgePorts, maxBridgePorts)
	}
	if c.Fill < fillSample || c.Fill+1 > maxBridgePorts {
		return c, fmt.Errorf("-fill must be %d..%d: the at-fill sample attaches one more endpoint, and a Linux bridge holds at most %d ports", fillSample, maxBridgePorts-1, maxBridgePorts)
	}
	if c.DNS && (c.DNSNames < dnsNets || c.DNSNames%dnsNets != 0 || c.DNSNames > dnsNets*250) {
		return c, fmt.Errorf("-dns-names must be a multiple of %d, %d..%d (one /24 per network)", dnsNets, dnsNets, dnsNets*250)
	}
	if c.DNS && c.DNSSecs < 1 {
		return c, fmt.Errorf("-dns-secs must be at least 1")
	}
	return c, nil
}

// Plan is what the supervisor hands the worker, as JSON in a file named by
// $BENCH_PLAN.
type Plan struct {
	Config
	Host       string // name of the throwaway "host" netns
	Prefix     string // target namespaces are Prefix1..PrefixNamespaces
	Namespaces int
	TmpDir     string // plumb's state dir, CNI's data dir and the logs live here
	CNISkip    string // why the CNI peer is skipped; "" to run it

	DNSSkip      string   // why the DNS benchmark cannot run (no dnsperf); "" to run it
	AardvarkSkip string   // why the aardvark-dns peer is skipped; "" to run it
	DNSSetup     []string // what the supervisor installed, and the tools' versions
	Results      string   // where the worker writes its Results
}

// target returns the name of the i-th target namespace, from 1.
func (p *Plan) target(i int) string { return fmt.Sprintf("%s%d", p.Prefix, i) }
