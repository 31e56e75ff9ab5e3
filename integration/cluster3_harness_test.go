package integration

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/etcdtest"
	"github.com/plumbnet/plumb/internal/testutil"
	"github.com/plumbnet/plumb/overlay"
)

// lab3 is the three-host cluster of issue 18's tests: three host
// namespaces on an underlay bridge (10.98.0.1-3), each with its own state
// and run dirs, its own member of a real 3-member etcd cluster (e1-e3, on
// its underlay address, ports 2379/2380) and its own plumb-cluster agent
// pointed at its local member.
type lab3 struct {
	h []*clusterHost
	m []*etcdtest.Member
}

// newLab3 starts the lab; agentArgs are extra flags of every agent. All
// of it is stopped at cleanup: agents first (by pid), then the members
// (by process group), then each host's networks and namespace.
func newLab3(t *testing.T, agentArgs ...string) *lab3 {
	t.Helper()
	etcdtest.Require(t)
	l := &lab3{h: newClusterLab(t, 3)}
	var initial []string
	for i, h := range l.h {
		initial = append(initial, fmt.Sprintf("e%d=http://%s:2380", i+1, h.underlay))
	}
	for i, h := range l.h {
		l.m = append(l.m, etcdtest.StartIn(t, h.ns, fmt.Sprintf("e%d", i+1), "http://"+h.underlay+":2380",
			"http://"+h.underlay+":2379", strings.Join(initial, ",")))
	}
	for _, m := range l.m {
		m.WaitReady()
	}
	for _, h := range l.h {
		h.agentArgs = agentArgs
		h.startAgent(t, storeOf(h))
	}
	return l
}

// storeOf is the store URL of h's own etcd member.
func storeOf(h *clusterHost) string { return "etcd://" + h.underlay + ":2379" }

// createNet creates the overlay network name in the store through h1's
// member and waits until `plumb network ls` lists it on every live host.
func (l *lab3) createNet(t *testing.T, name, subnet string) {
	t.Helper()
	h1 := l.h[0]
	if out := h1.cluster(t, "network", "create", name, "--subnet", subnet, "--store", storeOf(h1)); !strings.Contains(out, name+" vni ") {
		t.Fatalf("network create: %q", out)
	}
	for _, h := range l.h {
		waitUntil(t, 20*time.Second, func() bool { o, _ := h.run("network", "ls"); return strings.Contains(o, name) }, name+" listed on "+h.name)
	}
}

// attach attaches a new target to net on h with plain `plumb attach` and
// returns the target and its address.
func attachOn(t *testing.T, h *clusterHost, net string) (ns, ip string) {
	t.Helper()
	ns = target(t)
	h.must("attach", "netns:"+ns, "--net", net)
	return ns, addrIn(t, ns)
}

// waitUntil polls cond every 50 ms for at most d: a bound on the wait, not
// a timed assertion.
func waitUntil(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out (%v) waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// remoteOn reports whether h's VXLAN device of net has a neighbour entry
// for ip (`ip neigh show dev VX`) and, when mac is not "", an FDB entry
// for mac (`bridge fdb show dev VX`).
func remoteOn(h *clusterHost, net, ip, mac string) bool {
	vx := overlay.VXLANName(net)
	neigh, _ := h.sh("ip", "neigh", "show", "dev", vx)
	if !strings.Contains(neigh, ip+" ") {
		return false
	}
	if mac == "" {
		return true
	}
	fdb, _ := h.sh("bridge", "fdb", "show", "dev", vx)
	return strings.Contains(fdb, strings.ToLower(mac))
}

// hostsListed is the output of `plumb-cluster host ls` asked of h's member.
func hostsListed(t *testing.T, h *clusterHost) string {
	out, _ := testutil.InNS(h.ns, buildClusterBin(t), "host", "ls", "--store", storeOf(h))
	return out
}

// killHost kills h as a crashed machine would go: its agent and daemon
// by SIGKILL, its etcd member, then its namespace. A fresh empty namespace
// of the same name and an empty state dir are left for the harness's
// cleanup, which then finds nothing to remove.
func killHost(t *testing.T, h *clusterHost, m *etcdtest.Member) {
	t.Helper()
	h.stopAgent()
	m.Kill()
	if pid := h.daemonPID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		waitGone(t, pid)
	}
	testutil.Run(t, "ip", "netns", "del", h.ns)
	testutil.Run(t, "ip", "netns", "add", h.ns)
	entries, _ := os.ReadDir(h.state)
	for _, e := range entries {
		os.RemoveAll(h.state + "/" + e.Name())
	}
}

// partition makes h unable to talk etcd: a table of the test's own in
// h's namespace drops TCP to and from ports 2379 and 2380, both ways and
// on every interface (VXLAN, UDP 4789, passes). It returns the heal.
func partition(t *testing.T, h *clusterHost) (heal func()) {
	t.Helper()
	const rules = `table inet plumbtest_partition {
	chain in { type filter hook input priority -10; tcp dport { 2379, 2380 } drop; tcp sport { 2379, 2380 } drop; }
	chain out { type filter hook output priority -10; tcp dport { 2379, 2380 } drop; tcp sport { 2379, 2380 } drop; }
}
`
	f := h.runDir + "/partition.nft"
	if err := os.WriteFile(f, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSh(t, h.host, "nft", "-f", f)
	healed := false
	heal = func() {
		if !healed {
			healed = true
			h.sh("nft", "delete", "table", "inet", "plumbtest_partition")
		}
	}
	t.Cleanup(heal)
	return heal
}

// pingLoop pings ip from ns every 200 ms until stop is called, which
// returns how many probes answered and how many did not.
func pingLoop(ns, ip string) (stop func() (ok, lost int)) {
	quit, done := make(chan struct{}), make(chan [2]int)
	go func() {
		var n [2]int
		for {
			select {
			case <-quit:
				done <- n
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := testutil.InNS(ns, "ping", "-c", "1", "-W", "2", ip); err == nil {
				n[0]++
			} else {
				n[1]++
			}
		}
	}()
	return func() (int, int) { close(quit); n := <-done; return n[0], n[1] }
}

// echoServer serves TCP echo on port inside ns until cleanup.
func echoServer(t *testing.T, ns string, port int) {
	t.Helper()
	var ln net.Listener
	if err := inNS(ns, func() (err error) { ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port)); return err }); err != nil {
		t.Fatalf("echo server in %s: %v", ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
}

// dialIn opens a TCP connection from namespace ns to addr, closed at
// cleanup.
func dialIn(t *testing.T, ns, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := inNS(ns, func() (err error) { c, err = net.DialTimeout("tcp4", addr, 5*time.Second); return err }); err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo sends msg on c and fails the test unless it comes back.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo of %q: got %q, %v", msg, buf, err)
	}
}

// vxOf is the VXLAN device of overlay network net.
func vxOf(net string) string { return overlay.VXLANName(net) }
