package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/etcdtest"
	"github.com/plumbnet/plumb/internal/testutil"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/overlay"
)

// clusterBin is the plumb-cluster binary, built once when a test needs it.
var (
	clusterBin     string
	clusterBinErr  error
	clusterBinOnce sync.Once
)

func buildClusterBin(t *testing.T) string {
	t.Helper()
	clusterBinOnce.Do(func() {
		clusterBin = filepath.Join(filepath.Dir(plumbBin), "plumb-cluster")
		build := exec.Command("go", "build", "-o", clusterBin, "../cmd/plumb-cluster")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			clusterBinErr = fmt.Errorf("building plumb-cluster: %v\n%s", err, out)
		}
	})
	if clusterBinErr != nil {
		t.Fatal(clusterBinErr)
	}
	return clusterBin
}

// clusterHost is a plumb host of a cluster lab: a newHost with a veth
// into the underlay bridge (eth0, 10.98.0.N/24) and, once started, its
// plumb-cluster agent.
type clusterHost struct {
	*host
	name      string
	underlay  string
	agentLog  string
	agentArgs []string // extra flags of every startAgent
	stopAgent func()   // kills the running agent (SIGKILL) and waits for it
}

// newClusterLab makes n hosts joined by an underlay namespace's bridge.
func newClusterLab(t *testing.T, n int) []*clusterHost {
	t.Helper()
	u := testutil.NewNetNS(t)
	testutil.Run(t, "ip", "-n", u, "link", "add", "ubr", "type", "bridge")
	testutil.Run(t, "ip", "-n", u, "link", "set", "ubr", "up")
	var hosts []*clusterHost
	for i := 1; i <= n; i++ {
		h := &clusterHost{host: newHost(t), name: fmt.Sprintf("h%d", i), underlay: fmt.Sprintf("10.98.0.%d", i)}
		port := fmt.Sprintf("u%d", i)
		testutil.Run(t, "ip", "-n", u, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		testutil.Run(t, "ip", "-n", u, "link", "set", port, "master", "ubr", "up")
		testutil.Run(t, "ip", "-n", h.ns, "addr", "add", h.underlay+"/24", "dev", "eth0")
		testutil.Run(t, "ip", "-n", h.ns, "link", "set", "eth0", "up")
		hosts = append(hosts, h)
	}
	return hosts
}

// startAgent runs h's plumb-cluster agent in h's namespace, stopped (by
// its pid: SIGTERM, then SIGKILL) at cleanup, before h's networks are
// removed. Its log is shown when the test fails.
func (h *clusterHost) startAgent(t *testing.T, storeURL string) {
	t.Helper()
	h.agentLog = filepath.Join(h.runDir, "agent.log")
	logf, err := os.OpenFile(h.agentLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	c := exec.Command("ip", "netns", "exec", h.ns, buildClusterBin(t), "agent", "--store", storeURL,
		"--host", h.name, "--underlay", h.underlay, "--state-dir", h.state, "--run-dir", h.runDir, "--ttl", "5s")
	c.Args = append(c.Args, h.agentArgs...)
	c.Stdout, c.Stderr = logf, logf
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	h.stopAgent = func() { c.Process.Kill(); <-done }
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(h.agentLog)
			t.Logf("%s agent.log:\n%s", h.name, b)
		}
		c.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.Process.Kill()
			<-done
		}
	})
}

// cluster runs plumb-cluster args in h's namespace.
func (h *clusterHost) cluster(t *testing.T, args ...string) string {
	t.Helper()
	out, err := testutil.InNS(h.ns, buildClusterBin(t), args...)
	if err != nil {
		t.Fatalf("plumb-cluster %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var inetRE = regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`)

// addrIn is the IPv4 address of eth0 in namespace ns.
func addrIn(t *testing.T, ns string) string {
	t.Helper()
	out, err := testutil.InNS(ns, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	m := inetRE.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("no address on eth0 in %s: %v\n%s", ns, err, out)
	}
	return m[1]
}

// A network created in the store appears on both hosts of a two-host lab
// (one etcd member, in h1), each host's agent claims its own block of it,
// and targets attached with plain `plumb attach` on each host ping each
// other across the hosts by address, over VXLAN at the underlay's MTU less
// 50; a detach on one host removes the endpoint from the other's VXLAN
// device; `network rm` in the store removes it from both hosts.
func TestPrivilegedClusterAgentPing(t *testing.T) {
	etcdtest.Require(t)
	hosts := newClusterLab(t, 2)
	h1, h2 := hosts[0], hosts[1]
	m := etcdtest.StartIn(t, h1.ns, "e1", "http://10.98.0.1:2380", "http://10.98.0.1:2379", "e1=http://10.98.0.1:2380")
	m.WaitReady()
	const storeURL = "etcd://10.98.0.1:2379"
	for _, h := range hosts {
		h.startAgent(t, storeURL)
	}
	out := h2.cluster(t, "network", "create", "ov1", "--subnet", "10.77.0.0/24", "--store", storeURL)
	if !strings.Contains(out, "ov1 vni ") {
		t.Fatalf("network create: %q", out)
	}
	for _, h := range hosts {
		waitFor(t, func() bool { o, _ := h.run("network", "ls"); return strings.Contains(o, "ov1") }, "ov1 on "+h.name)
	}
	var ips []string
	var targets []string
	for _, h := range hosts {
		ns := target(t)
		h.must("attach", "netns:"+ns, "--net", "ov1")
		targets, ips = append(targets, ns), append(ips, addrIn(t, ns))
	}
	if ips[0] == ips[1] {
		t.Fatalf("both hosts handed out %s", ips[0])
	}
	mtu, _ := testutil.InNS(targets[0], "cat", "/sys/class/net/eth0/mtu")
	if strings.TrimSpace(mtu) != "1450" {
		t.Errorf("target eth0 mtu %q, want 1450 (1500 less 50)", mtu)
	}
	waitFor(t, func() bool { return ping(targets[0], ips[1]) }, "h1's target to reach "+ips[1]+" on h2")
	waitFor(t, func() bool { return ping(targets[1], ips[0]) }, "h2's target to reach "+ips[0]+" on h1")
	// A distributed gateway: the same bridge MAC on both hosts.
	br := network.BridgeName("ov1")
	mac1, _ := h1.sh("cat", "/sys/class/net/"+br+"/address")
	mac2, _ := h2.sh("cat", "/sys/class/net/"+br+"/address")
	if mac1 == "" || mac1 != mac2 {
		t.Errorf("bridge MACs differ: h1 %q, h2 %q", mac1, mac2)
	}
	// An agent killed and started again reconciles: traffic still flows,
	// and a new attach on h1 is reachable from h2.
	h1.stopAgent()
	h1.startAgent(t, storeURL)
	ns3 := target(t)
	h1.must("attach", "netns:"+ns3, "--net", "ov1")
	ip3 := addrIn(t, ns3)
	waitFor(t, func() bool { return ping(targets[1], ip3) }, "h2's target to reach "+ip3+" attached after h1's agent restarted")
	if !ping(targets[1], ips[0]) {
		t.Errorf("h2's target lost %s after h1's agent restarted", ips[0])
	}
	// doctor finds the overlay whole: the VXLAN device and every remote
	// endpoint are there. h1 runs its agent by hand, not under a daemon
	// with --store: doctor finds no agent pid file (cluster-agent).
	doc := func() string { o, err := h1.run("doctor", "--format", "json"); return fmt.Sprint(o, err) }
	if out := doc(); strings.Contains(out, "overlay-vxlan") || strings.Contains(out, "overlay-remote") || !strings.Contains(out, "cluster-agent") {
		t.Errorf("doctor on h1: want only cluster-agent of the overlay checks:\n%s", out)
	}
	// With the agent stopped, doctor finds a deleted neighbour entry
	// (overlay-remote) and a deleted VXLAN device (overlay-vxlan); the
	// agent started again makes both whole, and traffic flows again.
	vx := overlay.VXLANName("ov1")
	h1.stopAgent()
	mustSh(t, h1.host, "ip", "neigh", "del", ips[1], "dev", vx)
	if out := doc(); !strings.Contains(out, "overlay-remote") {
		t.Errorf("doctor on h1 misses the deleted neighbour entry of %s:\n%s", ips[1], out)
	}
	mustSh(t, h1.host, "ip", "link", "del", vx)
	if out := doc(); !strings.Contains(out, "overlay-vxlan") {
		t.Errorf("doctor on h1 misses the deleted VXLAN device:\n%s", out)
	}
	h1.startAgent(t, storeURL)
	waitFor(t, func() bool { return ping(targets[0], ips[1]) }, "h1's target to reach "+ips[1]+" again after its VXLAN device was deleted")
	if out := doc(); strings.Contains(out, "overlay-vxlan") || strings.Contains(out, "overlay-remote") {
		t.Errorf("doctor on h1 after the agent mended the overlay:\n%s", out)
	}
	// A detach on h2 withdraws its endpoint: h1's VXLAN device forgets it.
	neigh := func() string { o, _ := h1.sh("ip", "neigh", "show", "dev", vx); return o }
	if !strings.Contains(neigh(), ips[1]) {
		t.Fatalf("h1 has no neighbour entry for %s on %s:\n%s", ips[1], vx, neigh())
	}
	h2.must("detach", "netns:"+targets[1], "--net", "ov1")
	waitFor(t, func() bool { return !strings.Contains(neigh(), ips[1]) }, "h1 to drop "+ips[1])
	hl := h1.cluster(t, "host", "ls", "--store", storeURL)
	if !strings.Contains(hl, "h1") || !strings.Contains(hl, "10.98.0.2") {
		t.Errorf("host ls:\n%s", hl)
	}
	h1.cluster(t, "network", "rm", "--force", "ov1", "--store", storeURL)
	for _, h := range hosts {
		waitFor(t, func() bool { o, _ := h.run("network", "ls"); return !strings.Contains(o, "ov1") }, "ov1 gone from "+h.name)
	}
}

// Names across hosts: a target's name on h2 resolves from a target on h1
// through 127.0.0.11 (the agent writes h2's endpoints into h1's state
// directory, the daemon serves them) and the other way round. When h2's
// agent dies for good (SIGKILL, no restart) its lease runs out and h1
// drops h2's names at once, while it keeps its own names and still holds
// h2's neighbour entry for the grace period.
func TestPrivilegedClusterNames(t *testing.T) {
	etcdtest.Require(t)
	hosts := newClusterLab(t, 2)
	h1, h2 := hosts[0], hosts[1]
	m := etcdtest.StartIn(t, h1.ns, "e1", "http://10.98.0.1:2380", "http://10.98.0.1:2379", "e1=http://10.98.0.1:2380")
	m.WaitReady()
	const storeURL = "etcd://10.98.0.1:2379"
	for _, h := range hosts {
		h.startAgent(t, storeURL)
	}
	h1.cluster(t, "network", "create", "ovn", "--subnet", "10.78.0.0/24", "--store", storeURL)
	for _, h := range hosts {
		waitFor(t, func() bool { o, _ := h.run("network", "ls"); return strings.Contains(o, "ovn") }, "ovn on "+h.name)
	}
	t1, t2 := target(t), target(t)
	h1.must("attach", "netns:"+t1, "--net", "ovn", "--alias", "alpha")
	h2.must("attach", "netns:"+t2, "--net", "ovn", "--alias", "beta")
	ip1, ip2 := addrIn(t, t1), addrIn(t, t2)
	waitFor(t, func() bool { return dig(t1, "127.0.0.11", "beta") == ip2 }, "beta ("+ip2+", on h2) to resolve on h1")
	waitFor(t, func() bool { return dig(t2, "127.0.0.11", "alpha") == ip1 }, "alpha ("+ip1+", on h1) to resolve on h2")
	if ls := h1.must("dns", "ls", "--net", "ovn"); !regexp.MustCompile(`ovn\s+beta\s+` + regexp.QuoteMeta(ip2) + `\s+h2/`).MatchString(ls) {
		t.Errorf("dns ls on h1 does not show h2's beta:\n%s", ls)
	}
	if got := dig(t1, "10.78.0.1", "beta"); got != ip2 {
		t.Errorf("beta at h1's gateway listener: %q, want %s", got, ip2)
	}
	if !ping(t1, ip2) {
		t.Errorf("h1's target cannot ping %s on h2", ip2)
	}
	h2.stopAgent()
	// The lease is 5 s: waitFor's 10 s is the TTL and a little.
	waitFor(t, func() bool { return dig(t1, "127.0.0.11", "beta") == "" }, "beta to go from h1 once h2's lease expired")
	if got := dig(t1, "127.0.0.11", "alpha"); got != ip1 {
		t.Errorf("h1's own alpha: %q, want %s", got, ip1)
	}
	vx := overlay.VXLANName("ovn")
	if o, _ := h1.sh("ip", "neigh", "show", "dev", vx); !strings.Contains(o, ip2) {
		t.Errorf("h1 dropped h2's neighbour entry %s before the grace period:\n%s", ip2, o)
	}
}
