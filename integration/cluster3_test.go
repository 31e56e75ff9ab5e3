package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 18's tests on three hosts, each with its own etcd member of one
// 3-member cluster and its own agent (lab3). Every wait polls with a
// deadline; nothing is timed.

// A network created through h1 is listed by `plumb network ls` on h2 and
// h3, and a target on each host pings the targets of the two others by
// address, across the underlay.
func TestPrivilegedCluster3Ping(t *testing.T) {
	l := newLab3(t)
	l.createNet(t, "ov3", "10.77.0.0/24")
	var nss, ips []string
	for _, h := range l.h {
		ns, ip := attachOn(t, h, "ov3")
		nss, ips = append(nss, ns), append(ips, ip)
	}
	for i := range l.h {
		for j := range l.h {
			if i != j {
				waitUntil(t, 20*time.Second, func() bool { return ping(nss[i], ips[j]) },
					fmt.Sprintf("%s's target to reach %s on %s", l.h[i].name, ips[j], l.h[j].name))
			}
		}
	}
	// By name: each target's name (its netns name) resolves on the other
	// hosts through their 127.0.0.11.
	for i := range l.h {
		for j := range l.h {
			if i != j {
				waitUntil(t, 20*time.Second, func() bool { return dig(nss[i], "127.0.0.11", nss[j]) == ips[j] },
					fmt.Sprintf("%s (on %s) to resolve to %s on %s", nss[j], l.h[j].name, ips[j], l.h[i].name))
			}
		}
	}
}

// 3×100 attaches run at once, 100 on each host (10 at a time per host):
// every one succeeds and no address is handed out twice in the cluster,
// counted from `plumb ps --format json` of every host; then every host
// programs the other hosts' endpoints on its VXLAN device. -short: 3×20.
// The agents claim the default /26 blocks: a host needs two for 100
// endpoints, which it claims as the first runs low (no attach fails).
func TestPrivilegedCluster3Attaches(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 20
	}
	l := newLab3(t)
	l.createNet(t, "ov3", "10.78.0.0/16")
	targets := make([][]string, len(l.h))
	for i := range l.h {
		for k := 0; k < n; k++ {
			targets[i] = append(targets[i], target(t))
		}
	}
	start := time.Now()
	errs := attachAll(l, targets, "ov3", 10)
	t.Logf("%d×%d attaches (10 at a time per host) took %v", len(l.h), n, time.Since(start).Round(time.Millisecond))
	for _, err := range errs {
		t.Error(err)
	}
	seen := map[string]string{}
	dups, total := 0, 0
	for _, h := range l.h {
		var rows []psEntry
		if err := h.runJSON(&rows, "ps", "--format", "json", "--net", "ov3"); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			ip := r.IP.Addr().String()
			total++
			if other, ok := seen[ip]; ok {
				dups++
				t.Errorf("%s handed out twice: %s and %s %s", ip, other, h.name, r.Target)
			}
			seen[ip] = h.name + " " + r.Target
		}
	}
	t.Logf("%d endpoints in the cluster, %d duplicate addresses", total, dups)
	if total != len(l.h)*n || dups != 0 {
		t.Fatalf("%d endpoints, %d duplicates: want %d and 0", total, dups, len(l.h)*n)
	}
	// Every endpoint reaches the store: each host programs the others'.
	for _, h := range l.h {
		waitUntil(t, 60*time.Second, func() bool {
			o, _ := h.sh("ip", "neigh", "show", "dev", vxOf("ov3"))
			return strings.Count(o, "lladdr") == (len(l.h)-1)*n
		}, fmt.Sprintf("%s to program the other hosts' %d endpoints", h.name, (len(l.h)-1)*n))
	}
	t.Logf("all programmed on every host %v after the attaches began", time.Since(start).Round(time.Millisecond))
}

// attachAll attaches targets[i] to net on host i, the hosts at once and
// per hosts par at a time, and returns the failures.
func attachAll(l *lab3, targets [][]string, net string, par int) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i, h := range l.h {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := make(chan struct{}, par)
			var hw sync.WaitGroup
			for _, ns := range targets[i] {
				hw.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; hw.Done() }()
					if out, err := h.run("attach", "netns:"+ns, "--net", net); err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("%s: attach %s: %v\n%s", h.name, ns, err, out))
						mu.Unlock()
					}
				}()
			}
			hw.Wait()
		}()
	}
	wg.Wait()
	return errs
}

// A detach on h2 removes h2's endpoint from the neighbour and FDB entries
// of h1 and h3; `network rm` in the store (through h3's member) removes
// the network, its bridge and its VXLAN device from every host.
func TestPrivilegedCluster3DetachRm(t *testing.T) {
	l := newLab3(t)
	l.createNet(t, "ov3", "10.77.0.0/24")
	h1, h2, h3 := l.h[0], l.h[1], l.h[2]
	ns2, ip2 := attachOn(t, h2, "ov3")
	mac2 := h2.endpointOf("netns:"+ns2, "ov3").MAC
	for _, h := range []*clusterHost{h1, h3} {
		waitUntil(t, 20*time.Second, func() bool { return remoteOn(h, "ov3", ip2, mac2) }, h.name+" to program "+ip2+" "+mac2)
	}
	h2.must("detach", "netns:"+ns2, "--net", "ov3")
	for _, h := range []*clusterHost{h1, h3} {
		waitUntil(t, 20*time.Second, func() bool {
			neigh, _ := h.sh("ip", "neigh", "show", "dev", vxOf("ov3"))
			fdb, _ := h.sh("bridge", "fdb", "show", "dev", vxOf("ov3"))
			return !strings.Contains(neigh, ip2+" ") && !strings.Contains(fdb, strings.ToLower(mac2))
		}, h.name+" to drop "+ip2+" "+mac2)
	}
	h3.cluster(t, "network", "rm", "--force", "ov3", "--store", storeOf(h3))
	for _, h := range l.h {
		waitUntil(t, 20*time.Second, func() bool {
			o, _ := h.run("network", "ls")
			_, err := h.sh("ip", "link", "show", vxOf("ov3"))
			return !strings.Contains(o, "ov3") && err != nil
		}, "ov3 and its VXLAN device gone from "+h.name)
	}
}

// h3 dies (its agent and daemon SIGKILLed, its etcd member killed, its
// namespace deleted): h1↔h2 keep talking all along; h3 leaves `host ls`
// when its lease (5 s) expires; its endpoint leaves h1's and h2's VXLAN
// devices after the agents' grace period (30 s).
func TestPrivilegedCluster3HostDies(t *testing.T) {
	l := newLab3(t)
	l.createNet(t, "ov3", "10.77.0.0/24")
	h1, h2, h3 := l.h[0], l.h[1], l.h[2]
	ns1, ip1 := attachOn(t, h1, "ov3")
	ns2, ip2 := attachOn(t, h2, "ov3")
	ns3, ip3 := attachOn(t, h3, "ov3")
	waitUntil(t, 20*time.Second, func() bool { return ping(ns1, ip2) && ping(ns2, ip1) && ping(ns1, ip3) }, "h1↔h2 and h1→h3")
	waitUntil(t, 20*time.Second, func() bool { return dig(ns1, "127.0.0.11", ns3) == ip3 }, "h3's name to resolve on h1")
	stop12, stop21 := pingLoop(ns1, ip2), pingLoop(ns2, ip1)
	killHost(t, h3, l.m[2])
	waitUntil(t, 20*time.Second, func() bool { o := hostsListed(t, h1); return strings.Contains(o, "h1") && !strings.Contains(o, "h3") },
		"h3 to leave host ls when its lease expires")
	// Its names go at once (the lease expired: checked just above), while
	// its FDB/neighbour entries wait out the grace period below.
	for _, ns := range []string{ns1, ns2} {
		waitUntil(t, 10*time.Second, func() bool { return dig(ns, "127.0.0.11", ns3) == "" }, "dead h3's name to leave "+ns+"'s 127.0.0.11")
	}
	if !remoteOn(h1, "ov3", ip3, "") {
		t.Errorf("h1 dropped dead h3's entries with its names: they should wait out the grace period")
	}
	for _, h := range []*clusterHost{h1, h2} {
		waitUntil(t, 60*time.Second, func() bool { return !remoteOn(h, "ov3", ip3, "") }, h.name+" to drop dead h3's "+ip3+" after the grace period")
	}
	ok12, lost12 := stop12()
	ok21, lost21 := stop21()
	t.Logf("while h3 died: h1→h2 %d answered, %d lost; h2→h1 %d answered, %d lost", ok12, lost12, ok21, lost21)
	if lost12+lost21 > 0 || ok12 == 0 || ok21 == 0 {
		t.Errorf("h1↔h2 pings lost while h3 died: %d and %d", lost12, lost21)
	}
	if !ping(ns1, ip2) || !ping(ns2, ip1) {
		t.Errorf("h1↔h2 no longer talk after h3 died")
	}
}

// h2 cut from etcd (its client and peer ports dropped in its namespace):
// a flow from h2 to h1 keeps going all along, an attach on h2 succeeds
// (inside its block) and is not seen by h1, and once healed that new
// target is reachable from h1.
func TestPrivilegedCluster3Partition(t *testing.T) {
	l := newLab3(t)
	l.createNet(t, "ov3", "10.77.0.0/24")
	h1, h2 := l.h[0], l.h[1]
	ns1, ip1 := attachOn(t, h1, "ov3")
	ns2, ip2 := attachOn(t, h2, "ov3")
	waitUntil(t, 20*time.Second, func() bool { return ping(ns1, ip2) && ping(ns2, ip1) }, "h1↔h2")
	stop := pingLoop(ns2, ip1)
	heal := partition(t, h2)
	// The cut works: h2's lease runs out, h1 sees h2 leave.
	waitUntil(t, 20*time.Second, func() bool { o := hostsListed(t, h1); return strings.Contains(o, "h1") && !strings.Contains(o, "h2") },
		"h2's lease to expire while it is cut off")
	ns2b, ip2b := attachOn(t, h2, "ov3")
	if !ping(ns1, ip2) {
		t.Errorf("h1 lost h2's %s during the partition", ip2)
	}
	// Not published while cut off: h2 reaches no member.
	if remoteOn(h1, "ov3", ip2b, "") {
		t.Errorf("h1 has %s, attached on h2 while h2 was cut off from etcd: the partition leaks", ip2b)
	}
	heal()
	waitUntil(t, 30*time.Second, func() bool { return ping(ns1, ip2b) }, "h1 to reach "+ip2b+", attached on h2 while cut off")
	if !ping(ns2b, ip1) {
		t.Errorf("%s on h2 does not reach h1's %s", ip2b, ip1)
	}
	ok, lost := stop()
	t.Logf("h2→h1 during the partition: %d answered, %d lost", ok, lost)
	if lost > 0 || ok == 0 {
		t.Errorf("h2→h1 lost %d of %d pings during the partition", lost, ok+lost)
	}
}

// h1's agent SIGKILLed and started again reconciles without dropping an
// established TCP connection from h1 to h2 (it sends and receives after
// the restart), and a target attached on h1 afterwards is reachable from
// h2.
func TestPrivilegedCluster3AgentRestart(t *testing.T) {
	l := newLab3(t)
	l.createNet(t, "ov3", "10.77.0.0/24")
	h1, h2 := l.h[0], l.h[1]
	ns1, ip1 := attachOn(t, h1, "ov3")
	ns2, ip2 := attachOn(t, h2, "ov3")
	waitUntil(t, 20*time.Second, func() bool { return ping(ns1, ip2) && ping(ns2, ip1) }, "h1↔h2")
	echoServer(t, ns2, 7007)
	c := dialIn(t, ns1, ip2+":7007")
	echo(t, c, "before")
	stop := pingLoop(ns1, ip2)
	h1.stopAgent()
	h1.startAgent(t, storeOf(h1))
	_, ip1b := attachOn(t, h1, "ov3")
	waitUntil(t, 20*time.Second, func() bool { return ping(ns2, ip1b) }, "h2 to reach "+ip1b+", attached after h1's agent restarted")
	echo(t, c, "after the restart")
	ok, lost := stop()
	t.Logf("h1→h2 across the restart: %d answered, %d lost", ok, lost)
	if lost > 0 {
		t.Errorf("h1→h2 lost %d of %d pings across the agent restart", lost, ok+lost)
	}
}
