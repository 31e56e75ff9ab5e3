package main

import (
	"context"
	"fmt"
	"os/exec"
)

// The ipv6 section (issue 17): what IPv6 costs plumb.
//   - attach and detach on a dual-stack network against an IPv4-only one
//     in the same plumb and host netns: Samples rounds, in each the same
//     target attached to one network and detached, then to the other and
//     detached, which goes first alternating (pairedRounds);
//   - iperf3 between the same two endpoints of one dual-stack network, to
//     the server's IPv4 address and to its IPv6 address, the two taking
//     turns (the supervisor's: ipv6DataPath).
const (
	ipv6DualNet   = "v6-dual"
	ipv6DualV4    = "10.241.0.0/24"
	ipv6DualV6    = "fd00:b6:1::/64"
	ipv6V4Net     = "v6-v4only"
	ipv6V4Subnet  = "10.242.0.0/24"
	ipv6DataNet   = "data6"
	ipv6DataV4    = "10.237.20.0/24"
	ipv6DataV6    = "fd00:b6:2::/64"
	ipv6DataFirst = 10 // the data path's targets: 10..12 (1..3 are datapath's, 4..9 nft's)
)

// ipv6Targets is how many target namespaces the ipv6 section uses.
func (p *Plan) ipv6Targets() int { return max(p.Samples, ipv6DataFirst+2) }

// ipv6Attach is the worker's ipv6 step: dual-stack attach against
// IPv4-only attach, interleaved.
func (w *worker) ipv6Attach(ctx context.Context) error {
	if _, err := w.createNetwork(ipv6DualNet, ipv6DualV4, "--ipv6", "--subnet", ipv6DualV6); err != nil {
		return err
	}
	if _, err := w.createNetwork(ipv6V4Net, ipv6V4Subnet); err != nil {
		return err
	}
	s := func(key, op string) *Series { return w.res.add(&Series{Key: key, Tool: "plumb", Op: op}) }
	dual := attachVariant{what: "dual-stack", attach: func(i int) (Sample, error) { return w.attachTo(ipv6DualNet, i) },
		as: s("ipv6.attach.dual", "attach, dual-stack network ("+ipv6DualV4+", "+ipv6DualV6+")"),
		ds: s("ipv6.detach.dual", "detach, dual-stack network")}
	v4 := attachVariant{what: "IPv4-only", attach: func(i int) (Sample, error) { return w.attachTo(ipv6V4Net, i) },
		as: s("ipv6.attach.v4", "attach, IPv4-only network ("+ipv6V4Subnet+")"),
		ds: s("ipv6.detach.v4", "detach, IPv4-only network")}
	logf("  ipv6: dual-stack and IPv4-only attach, %d rounds", w.plan.Samples)
	return w.pairedRounds(ctx, w.plan.Samples, [2]attachVariant{dual, v4})
}

// ipv6DataPath is the supervisor's part of the ipv6 section: two
// endpoints of one dual-stack plumb network in the bench netns, iperf3
// from the client to the server's IPv4 address and to its IPv6 address,
// the two taking turns round by round.
func ipv6DataPath(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	d := &DataResults{Secs: p.DataSecs, Rounds: p.Rounds, Skips: map[string]string{}}
	res.IPv6Data = d
	iperf, err := exec.LookPath("iperf3")
	if err != nil {
		d.Notes = append(d.Notes, "iperf3 is not installed: no throughput figures")
		return nil
	}
	v4, _, err := plumbEndsOf(p, cl, dataPlumb{key: "ipv6-v4", label: "plumb dual-stack",
		net: ipv6DataNet, subnet: ipv6DataV4, create: []string{"--ipv6", "--subnet", ipv6DataV6},
		first: ipv6DataFirst, iperfPort: plumbIperfPort + 200, httpPort: plumbHTTPPort + 200,
		argv: func(args ...string) []string { return plumbArgv(p, args...) }, stateRun: p.runDir()})
	if err != nil {
		return fmt.Errorf("ipv6 data path: %w", err)
	}
	v6 := *v4
	v6.Key, v6.Label = "ipv6-v6", v4.Label+", over IPv6"
	v4.Label += ", over IPv4"
	if v6.addr, err = nsAddr6(p.target(ipv6DataFirst)); err != nil {
		return fmt.Errorf("ipv6 data path: %w", err)
	}
	v4.Path += " (to " + v4.addr + ")"
	v6.Path += " (to " + v6.addr + ")"
	d.Setups = append(d.Setups, v4.DataSetup, v6.DataSetup)
	return measureRounds(ctx, p, cl, d, []*dataEnd{v4, &v6}, iperf, nil)
}
