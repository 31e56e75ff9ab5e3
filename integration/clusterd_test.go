package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/daemon"
	"github.com/plumbnet/plumb/internal/etcdtest"
)

// startClusterDaemon runs `plumb daemon --store URL` in h, which runs h's
// plumb-cluster agent; stopped (SIGTERM, by pid) at cleanup, its log
// shown when the test fails.
func (h *clusterHost) startClusterDaemon(t *testing.T, storeURL string) {
	t.Helper()
	buildClusterBin(t) // beside plumb, where the daemon looks for it
	d := h.command(nil, "daemon", "--store", storeURL, "--host", h.name, "--underlay", h.underlay, "--lease-ttl", "5s")
	logf, err := os.OpenFile(filepath.Join(h.runDir, "daemon.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.Wait(); close(done) }()
	h.agentLog = filepath.Join(h.runDir, "agent.log")
	h.stopAgent = func() { // here: the daemon, which stops its agent
		d.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			d.Process.Kill()
			<-done
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(h.agentLog)
			t.Logf("%s agent.log:\n%s", h.name, b)
		}
		h.stopAgent()
	})
}

// agentPID is the pid of h's running agent, 0 when there is none.
func (h *clusterHost) agentPID() int {
	b, _ := os.ReadFile(daemon.AgentPIDPath(h.runDir))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid > 0 && syscall.Kill(pid, 0) == nil {
		return pid
	}
	return 0
}

// `plumb daemon --store` makes each host a member of the cluster: `plumb
// network create --driver overlay` on h1 reaches h2, `plumb host ls` lists
// both, names resolve across the hosts; an agent killed is started again
// by its daemon and publishes what is attached after; a daemon stopped
// stops its agent, whose host leaves (its names go from h1); `plumb host
// rm` then clears what it held; `plumb network rm` of an overlay network
// removes it from the store, so from the hosts. A daemon SIGKILLed takes
// its agent along.
func TestPrivilegedClusterDaemon(t *testing.T) {
	etcdtest.Require(t)
	hosts := newClusterLab(t, 2)
	h1, h2 := hosts[0], hosts[1]
	m := etcdtest.StartIn(t, h1.ns, "e1", "http://10.98.0.1:2380", "http://10.98.0.1:2379", "e1=http://10.98.0.1:2380")
	m.WaitReady()
	const storeURL = "etcd://10.98.0.1:2379"
	for _, h := range hosts {
		h.startClusterDaemon(t, storeURL)
	}
	h1.must("network", "create", "--driver", "overlay", "ovd", "--subnet", "10.79.0.0/24", "--store", storeURL)
	for _, h := range hosts {
		waitFor(t, func() bool { o, _ := h.run("network", "ls"); return strings.Contains(o, "ovd") }, "ovd on "+h.name)
	}
	hl := h1.must("host", "ls", "--store", storeURL)
	if !strings.Contains(hl, "10.98.0.1") || !strings.Contains(hl, "10.98.0.2") {
		t.Errorf("host ls:\n%s", hl)
	}
	t1, t2 := target(t), target(t)
	h1.must("attach", "netns:"+t1, "--net", "ovd", "--alias", "alpha")
	h2.must("attach", "netns:"+t2, "--net", "ovd", "--alias", "beta")
	ip2 := addrIn(t, t2)
	waitFor(t, func() bool { return dig(t1, "127.0.0.11", "beta") == ip2 }, "beta ("+ip2+", on h2) to resolve on h1")

	// The daemon starts a killed agent again (after a 1 s backoff).
	old := h2.agentPID()
	if old == 0 {
		t.Fatal("h2 has no running agent")
	}
	syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, func() bool { p := h2.agentPID(); return p != 0 && p != old }, "h2's daemon to start its agent again")
	t3 := target(t)
	h2.must("attach", "netns:"+t3, "--net", "ovd", "--alias", "gamma")
	ip3 := addrIn(t, t3)
	waitFor(t, func() bool { return dig(t1, "127.0.0.11", "gamma") == ip3 }, "gamma, attached on h2 after its agent restarted, to resolve on h1")
	waitFor(t, func() bool { return ping(t1, ip3) }, "h1's target to reach "+ip3)

	// A daemon stopped stops its agent: h2 leaves, its names go from h1.
	agent := h2.agentPID()
	h2.stopAgent()
	if agent != 0 && syscall.Kill(agent, 0) == nil {
		t.Errorf("h2's agent (pid %d) outlived its daemon", agent)
	}
	waitFor(t, func() bool { return dig(t1, "127.0.0.11", "beta") == "" }, "beta to go from h1 once h2 left")
	if out := h1.must("host", "rm", "h2", "--store", storeURL); !strings.Contains(out, "h2:") {
		t.Errorf("host rm h2: %q", out)
	}
	// network rm of an overlay network removes it from the store, and so
	// from every host; without a store it is one line and nothing changes.
	if out, err := h1.run("network", "rm", "--force", "ovd"); err == nil || !strings.Contains(out, "no cluster store") || strings.Count(out, "\n") != 1 {
		t.Errorf("network rm of an overlay network without a store: %v\n%s", err, out)
	}
	h1.must("network", "rm", "--force", "ovd", "--store", storeURL)
	waitFor(t, func() bool { o, _ := h1.run("network", "ls"); return !strings.Contains(o, "ovd") }, "ovd to go from h1")
	// A daemon SIGKILLed takes its agent with it (Pdeathsig).
	if agent = h1.agentPID(); agent == 0 {
		t.Fatal("h1 has no running agent")
	}
	syscall.Kill(h1.daemonPID(), syscall.SIGKILL)
	waitFor(t, func() bool { return syscall.Kill(agent, 0) != nil }, "h1's agent to go with its SIGKILLed daemon")
}
