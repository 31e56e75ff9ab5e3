package main

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"strings"
	"time"

	"github.com/plumbnet/plumb/overlay"
)

// The overlay section (issue 18), the supervisor's, in its own lab
// (overlaylab.go):
//   - iperf3 over the overlay from a target on h1 to one on h2, against a
//     bare VXLAN pair between the h1 and h2 namespaces themselves (same
//     underlay, same UDP port, MTU 1450; no bridge, veth or rule) and
//     against two targets of the overlay on h1 (same host), taking turns;
//   - attach and detach on h1, the overlay network against a plain bridge
//     network of the same plumb, the same target taking one then the other
//     in each of -n rounds, the order alternating;
//   - convergence: the time from the start of an attach on h1 until a
//     target on h3 pings the new address (-n samples; each detached, and
//     gone from h3, before the next).

// ovPoll is the agents' round interval (cluster.Config.Poll's default).
const ovPoll = 200 * time.Millisecond

// overlayBench runs the section and fills res.Overlay and its series.
func overlayBench(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	l, err := newOvLab(ctx, p, cl)
	if err != nil {
		return err
	}
	if _, err := l.plumb(0, "network", "create", ovLocalNet, "--subnet", ovLocalSubnet); err != nil {
		return err
	}
	logf("overlay: attach, overlay against a local bridge network, %d rounds", p.Samples)
	if err := l.attachRounds(ctx, res); err != nil {
		return err
	}
	logf("overlay: convergence, attach on h1 to reachable from h3, %d samples", p.Samples)
	if err := l.convergence(ctx, res); err != nil {
		return err
	}
	logf("overlay: data path")
	res.Loads = append(res.Loads, "overlay data path "+loadAvg())
	return l.dataPath(ctx, res)
}

// attachRounds times attach and detach of one target on h1, to the
// overlay and to the local network, the first of each round alternating.
func (l *ovLab) attachRounds(ctx context.Context, res *Results) error {
	s := func(key, op string) *Series { return res.add(&Series{Key: key, Tool: "plumb", Op: op}) }
	oa, od := s("overlay.attach.ov", "attach, overlay network (h1)"), s("overlay.detach.ov", "detach, overlay network (h1)")
	la, ld := s("overlay.attach.local", "attach, local bridge network (h1)"), s("overlay.detach.local", "detach, local bridge network (h1)")
	ns, err := l.target()
	if err != nil {
		return err
	}
	one := func(net string, as, ds *Series) error {
		a, err := l.plumb(0, "attach", "netns:"+ns, "--net", net)
		if err != nil {
			return err
		}
		d, err := l.plumb(0, "detach", "netns:"+ns, "--net", net)
		if err != nil {
			return err
		}
		as.Samples, ds.Samples = append(as.Samples, a), append(ds.Samples, d)
		return nil
	}
	for r := 0; r < l.p.Samples && ctx.Err() == nil; r++ {
		first, second := func() error { return one(ovNet, oa, od) }, func() error { return one(ovLocalNet, la, ld) }
		if r%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// convergence times, for each sample, the start of an attach of a fresh
// target on h1 to the first echo reply to a prober on h3 (`ping -c 1 -W
// 0.2`, again and again from as soon as the attach returns: a probe lost
// costs 200 ms at most). The prober's
// ARP retry is 10 ms (retrans_time_ms), not 1 s, so that an ARP sent
// before h3 programmed the address fails in 30 ms and the next ping asks
// again, rather than quantizing the figure to seconds; its cache is
// flushed before each sample, which starts at a random point of the
// agents' rounds.
func (l *ovLab) convergence(ctx context.Context, res *Results) error {
	cs := res.add(&Series{Key: "overlay.converge", Tool: "plumb", Op: "attach on h1 → ping from h3 answered"})
	prober, _, err := l.attached(2, ovNet)
	if err != nil {
		return err
	}
	if _, err := sh("ip", "netns", "exec", prober, "sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=10"); err != nil {
		return err
	}
	vx := overlay.VXLANName(ovNet)
	for k := 0; k < l.p.Samples && ctx.Err() == nil; k++ {
		ns, err := l.target()
		if err != nil {
			return err
		}
		sh("ip", "-n", prober, "neigh", "flush", "dev", "eth0")
		// The agents work in rounds (200 ms): without a random start the
		// loop, paced by h3's rounds, would lock to their phase and every
		// sample would see the same wait.
		time.Sleep(rand.N(ovPoll))
		t0 := time.Now()
		if _, err := l.plumb(0, "attach", "netns:"+ns, "--net", ovNet); err != nil {
			return err
		}
		addr, err := nsAddr(ns)
		if err != nil {
			return err
		}
		err = l.poll(ctx, 10*time.Second, "echo reply from "+addr+" on h3", func() bool {
			_, err := runIn(netnsPath(prober), nil, 5*time.Second, "ping", "-n", "-q", "-c", "1", "-W", "0.2", addr)
			return err == nil
		})
		if err != nil {
			return err
		}
		cs.Samples = append(cs.Samples, Sample{Wall: time.Since(t0)})
		if _, err := l.plumb(0, "detach", "netns:"+ns, "--net", ovNet); err != nil {
			return err
		}
		err = l.poll(ctx, 10*time.Second, addr+" gone from h3", func() bool {
			out, err := sh("ip", "-n", l.hosts[2], "neigh", "show", "dev", vx)
			return err == nil && !strings.Contains(out, addr+" ")
		})
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// dataPath measures iperf3 over the overlay across hosts, over the bare
// VXLAN pair, and over the overlay within h1, taking turns.
func (l *ovLab) dataPath(ctx context.Context, res *Results) error {
	d := &DataResults{Secs: l.p.DataSecs, Rounds: l.p.Rounds, Skips: map[string]string{}}
	res.Overlay = d
	iperf, err := exec.LookPath("iperf3")
	if err != nil {
		d.Notes = append(d.Notes, "iperf3 is not installed: no throughput figures")
		return nil
	}
	srv2, addr2, err := l.attached(1, ovNet)
	if err != nil {
		return err
	}
	srv1, addr1, err := l.attached(0, ovNet)
	if err != nil {
		return err
	}
	cli, _, err := l.attached(0, ovNet)
	if err != nil {
		return err
	}
	if err := l.bareVXLAN(); err != nil {
		return err
	}
	err = l.poll(ctx, 20*time.Second, "h1's target reaching "+addr2, func() bool {
		_, err := runIn(netnsPath(cli), nil, 5*time.Second, "ping", "-c", "1", "-W", "1", addr2)
		return err == nil
	})
	if err != nil {
		return err
	}
	ends := []*dataEnd{
		{DataSetup: DataSetup{Key: "ov-cross", Label: "overlay, across hosts", Path: "target on h1 -- bridge -- VXLAN -- underlay -- VXLAN -- bridge -- target on h2"},
			serverNS: netnsPath(srv2), clientNS: netnsPath(cli), addr: addr2, iperfPort: iperfPort, httpPort: httpPort},
		{DataSetup: DataSetup{Key: "ov-bare", Label: "bare VXLAN pair", Path: "h1 -- VXLAN (VNI " + ovBareVNI + ", MTU 1450) -- underlay -- VXLAN -- h2, no bridge, no veth, no rule"},
			serverNS: netnsPath(l.hosts[1]), clientNS: netnsPath(l.hosts[0]), addr: strings.Split(ovBareB, "/")[0], iperfPort: iperfPort, httpPort: httpPort},
		{DataSetup: DataSetup{Key: "ov-same", Label: "overlay, same host", Path: "target on h1 -- bridge -- target on h1"},
			serverNS: netnsPath(srv1), clientNS: netnsPath(cli), addr: addr1, iperfPort: iperfPort, httpPort: httpPort},
	}
	d.Setups = []DataSetup{ends[0].DataSetup, ends[1].DataSetup, ends[2].DataSetup}
	return measureRounds(ctx, l.p, l.cl, d, ends, iperf, nil)
}

// bareVXLAN joins h1 and h2 by a VXLAN pair of their own on the same
// underlay and UDP port as the overlay. Equivalent to: `ip -n H1 link add
// vxbare type vxlan id 4242 local 10.232.0.1 remote 10.232.0.2 dstport
// 4789 nolearning; ip -n H1 link set vxbare mtu 1450 up; ip -n H1 addr
// add 10.231.0.1/24 dev vxbare`, and the mirror on h2.
func (l *ovLab) bareVXLAN() error {
	for i, me := range []string{ovBareA, ovBareB} {
		h := l.hosts[i]
		if _, err := shAll([][]string{
			{"ip", "-n", h, "link", "add", "vxbare", "type", "vxlan", "id", ovBareVNI, "local", ovAddr(i), "remote", ovAddr(1 - i), "dstport", "4789", "nolearning"},
			{"ip", "-n", h, "link", "set", "vxbare", "mtu", "1450", "up"},
			{"ip", "-n", h, "addr", "add", me, "dev", "vxbare"},
		}); err != nil {
			return err
		}
	}
	return nil
}
