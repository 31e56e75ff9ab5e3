package daemon

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestAgentSupervised: the agent is run with its flags, its pid in
// RUNDIR/agent.pid; killed, it is started again after the backoff; when
// ctx ends it is stopped and supervise returns.
func TestAgentSupervised(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fake-agent")
	runs := filepath.Join(dir, "runs")
	script := "#!/bin/sh\necho \"$$ $*\" >>" + runs + "\nexec sleep 60\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a := &Agent{Exe: exe, Store: "etcd://192.0.2.1:2379", Host: "h1", Underlay: netip.MustParseAddr("192.0.2.7"),
		StateDir: dir, RunDir: dir, Args: []string{"--ttl", "5s"}}
	if err := a.check(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.supervise(ctx, t.Logf) }()
	t.Cleanup(func() { cancel(); <-done })
	pid := func() int {
		b, _ := os.ReadFile(AgentPIDPath(dir))
		p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return p
	}
	lines := func() []string {
		b, _ := os.ReadFile(runs)
		return strings.Fields(strings.ReplaceAll(string(b), "\n", " | "))
	}
	waitUntil(t, func() bool { return pid() != 0 && len(lines()) > 0 }, "the agent to start")
	first := pid()
	if got := strings.Join(lines(), " "); !strings.Contains(got, "agent --store etcd://192.0.2.1:2379 --host h1 --underlay 192.0.2.7 --state-dir") || !strings.Contains(got, "--ttl 5s") {
		t.Fatalf("agent's command line: %s", got)
	}
	syscall.Kill(first, syscall.SIGKILL)
	waitUntil(t, func() bool { p := pid(); return p != 0 && p != first }, "the agent to be started again")
	second := pid()
	cancel()
	<-done
	if syscall.Kill(second, 0) == nil {
		t.Errorf("agent pid %d still runs after supervise returned", second)
	}
	if _, err := os.Stat(AgentPIDPath(dir)); err == nil {
		t.Error("agent.pid left behind")
	}
}

// TestAgentMissing: a missing binary is one line naming it.
func TestAgentMissing(t *testing.T) {
	a := &Agent{Exe: "/nonexistent/plumb-cluster", Underlay: netip.MustParseAddr("192.0.2.7")}
	err := a.check()
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/plumb-cluster") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("check: %v", err)
	}
}
