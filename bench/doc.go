// Command bench measures plumb side by side with the tools it replaces, on
// the same machine and in the same run, and writes a markdown report with
// PNG charts (bench/results/REPORT.md and *.png, or beside -out). It is a
// benchmark, not a test: it reports what it measured against the issues'
// targets, PASS or MISS, and never fails on a figure.
//
//   - floors: what a call costs before it does any work, the three taking
//     turns: fork+exec of /bin/true, a Go hello world that the bench builds
//     into its temp dir as plumb is built (CGO_ENABLED=0, -trimpath; gone
//     with the dir), and `plumb ps` on a state dir with no network; plus the
//     kernel's own veth add and delete, timed with `ip`;
//   - latency: attach and detach as the network fills (p50/p90/p99 at 1, 100,
//     500 and 1000 endpoints) for plumb, the CNI reference bridge+host-local
//     plugins, netavark (podman's) and `docker network connect`/`disconnect`,
//     the tools taking turns sample by sample;
//   - burst: 200 attaches started at once, plumb and the CNI reference: wall
//     time, p99 and duplicate addresses;
//   - ports: what publishing a port (-p) adds to a plumb attach;
//   - truth: `plumb ps` (each endpoint's state from kernel facts, issue 13)
//     and `plumb doctor` at 100 networks / 1000 endpoints, with `plumb ps`
//     of a baseline plumb from before issue 13 (-baseline REV, built from
//     the repository into the temp dir; or -baseline-bin) on the same state
//     dir, the three taking turns (see truth.go);
//   - see: `plumb inspect` and `plumb explain` (no --probe) at 10 networks /
//     100 endpoints, one of them publishing a port and listening; then, the
//     host grown to 100 networks / 1000 endpoints, `plumb graph` in text,
//     dot and svg (issue 15; see see.go);
//   - repair: the daemon keeps the host true (issue 14; see repair.go):
//     flush filter+nat, or delete a bridge, and time until the published
//     port answers or the gateway pings again (p50/p90/p99, misses counted),
//     on one network and at 100 networks / 1000 endpoints; the idle daemon's
//     CPU there; a simulated reboot of 1000 endpoints; `docker restart` →
//     reachable for a container attached by plumb against one on a Docker
//     bridge network. -only repair-one, repair-scale, repair-docker run a part;
//   - dns: plumb's embedded DNS against aardvark-dns (see dns.go);
//   - datapath: iperf3 and short-request rates between two endpoints of a plumb
//     network, of a Docker bridge network and of a bare veth pair, and from
//     localhost to a port published by plumb and by `docker run -p`.
//   - nft: plumb's firewall backends side by side (issue 16; see nft.go):
//     `network create` and `network rm` on each, what `-p` adds to an attach
//     and a detach with 0, 100 and 1000 ports already published on the host,
//     for the nftables backend, the iptables backend and Docker's `docker run
//     -p`, and iperf3 container to container and localhost to a published
//     port on each backend. `-only nft`, about 5 minutes with BENCH_QUICK=1.
//   - ipv6: what IPv6 costs (issue 17; see ipv6.go): attach and detach on a
//     dual-stack network against an IPv4-only one, the same target taking
//     one then the other in each of -n rounds, the order alternating
//     (target: dual-stack attach p50 ≤ 1.2x IPv4-only); and iperf3 between
//     two endpoints of one dual-stack network, to the server's IPv6 address
//     and to its IPv4 address, taking turns (target ≥ 0.97x). Writes
//     bench/results/REPORT-ipv6.md with `-only ipv6`, under a minute with
//     BENCH_QUICK=1.
//   - overlay: across hosts (issue 18; see overlay.go): a lab of its own,
//     three host namespaces on an underlay bridge, a 3-member etcd (one
//     member each) and a plumb-cluster agent each (bin/plumb-cluster, built
//     by make build); iperf3 over the overlay from h1 to h2 against a bare
//     VXLAN pair between the same namespaces (target ≥ 0.95x) and against
//     same-host; overlay attach against a local bridge attach, interleaved
//     (target p50 ≤ 1.5x); convergence, attach on h1 → reachable by address
//     from h3, p50/p99. Writes bench/results/REPORT-overlay.md with `-only
//     overlay`, about a minute with BENCH_QUICK=1.
//
// Run it as root from the repository root:
//
//	make bench                        # the full run (about 20 minutes, and 30 more for repair's paced rounds)
//	BENCH_QUICK=1 make bench          # levels 1,100; 20 samples; under 5 minutes
//	make bench BENCH_ARGS="-only latency,burst -levels 1,100,300 -out /tmp/r.md"
//	make bench BENCH_ARGS="-only floors"   # the start-up floors alone, in seconds
//	make bench BENCH_ARGS="-only truth"    # ps and doctor at 1000 endpoints, about 2 minutes
//	make bench BENCH_ARGS="-only see"      # inspect, explain at 100 endpoints; graph at 1000; about 1 minute
//	make bench BENCH_ARGS="-only repair"   # about 30 minutes with a daemon that repairs (rounds are paced)
//	BENCH_QUICK=1 go run ./bench -only ipv6  # dual-stack against IPv4-only attach; iperf3 over each family
//	BENCH_QUICK=1 go run ./bench -only overlay  # 3 hosts + etcd: iperf3 vs bare VXLAN, attach vs local, convergence
//
// Every report names the command line that produced it.
//
// Missing peers are installed with apt-get (containernetworking-plugins,
// netavark, iperf3, dnsperf, aardvark-dns) or skipped with a line saying
// why; Docker's containers run a busybox image built offline (`docker
// import`, never pulled).
//
// It runs as two processes. The supervisor records the host's state, creates
// throwaway namespaces (a "host" netns for plumb and one for each of the CNI
// and netavark peers, each with its own targets, named after its pid), then
// starts a copy of itself forked from a thread that has setns(2)'d into
// plumb's host netns, so that every thread of the copy (the worker) and every
// process the worker starts lives there from birth; the peers' calls are
// forked from threads that have setns(2)'d into theirs. No `ip netns exec` is
// in any measured path, and no command of the latency runs can reach the real
// host's links or firewall. Docker is the exception by nature: the docker CLI
// talks to dockerd over its socket, and dockerd works in the real host's
// netns; every container and network it makes is labelled
// org.plumbnet.bench=PID and removed by that label. The supervisor then runs
// the data path itself, from the real host's netns (Docker's published port
// is the real host's localhost), removes every namespace, container and file
// it made, checks that the host is as it found it, and writes the report. A
// run that was killed is swept by the next one: its namespaces and Docker
// objects carry its dead pid.
package main
