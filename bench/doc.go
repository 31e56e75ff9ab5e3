// Command bench measures plumb's attach and detach latency side by side with
// the CNI reference bridge plugin, and how attach latency holds up as a
// network fills, and plumb run as a CNI plugin (ADD then DEL, executed with
// the CNI environment as a runtime does) against the same reference plugins
// on the same namespaces, with the kernel costs of the ways a DEL can get
// rid of a veth pair. It is a benchmark, not a test: it reports what it measured
// against the targets and never fails on a figure. Last, it measures plumb's
// embedded DNS (the daemon at 127.0.0.11, holding -dns-names names over 10
// networks) against podman's aardvark-dns on the same names, with dnsperf
// (apt-get installed when missing) and a small Go client; -dns=false skips it.
//
// Run it as root from the repository root:
//
//	make bench                                   # n=200, fill=1000, dns-names=1000
//	BENCH_QUICK=1 make bench                     # n=50, fill=300, dns-names=100
//	make bench BENCH_ARGS="-n 100 -fill 500 -out /tmp/r.md"
//	make bench BENCH_ARGS="-n 200 -fill 50 -dns=false -out bench/results/cni.md"   # the CNI comparison
//
// BENCH_PREFIX=cb- names the target namespaces cb-1.. instead of bt-1..,
// for a run beside another one on the same machine.
//
// It runs as two processes. The supervisor records the host's state,
// creates a throwaway "host" network namespace and the target namespaces
// bt-1..bt-M, then starts a copy of itself forked from a thread that has
// setns(2)'d into the host namespace, so that every thread of the copy (the
// worker) and every process the worker starts lives there from birth. The
// worker execs plumb, the CNI plugins and ip directly, with no `ip netns
// exec` in the measured path, and no command of the benchmark can reach the
// real host's links or firewall. It writes its samples to a JSON file; the
// supervisor then removes every namespace and file it made, checks that the
// host is as it found it, and writes the report.
package main
