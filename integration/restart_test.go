package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// startToReachable collects, over the tests of this file, the time from
// Docker's start event to the container answering on its published port
// and to ping, for the log: no test asserts a time.
var startToReachable struct{ port, ping timings }

// logTimes logs one measurement and the totals so far; port 0: no port
// was published.
func logTimes(t *testing.T, what string, port, ping time.Duration) {
	t.Helper()
	if port != 0 {
		startToReachable.port.add(port)
	}
	startToReachable.ping.add(ping)
	t.Logf("%s: docker start event -> published port answers %v, ping answers %v (so far: port %v; ping %v)",
		what, port.Round(time.Millisecond), ping.Round(time.Millisecond), &startToReachable.port, &startToReachable.ping)
}

// TestPrivilegedDockerRestartReattaches: a plainly attached --network=none
// container that `docker restart`s is re-attached by the daemon with no
// plumb command: reachable from another attached namespace at the same
// address, on its published port and by name, with the same MAC, its
// hosts and resolv.conf written again. A container plumb never attached,
// and one detached before its restart, restart with lo alone, and no
// record or link of theirs appears.
func TestPrivilegedDockerRestartReattaches(t *testing.T) {
	l := newRestartLab(t, "10.231.80.0/24")
	web := testutil.UniqueName("pw")
	id := l.runHTTPD(web)
	l.h.must("attach", web, "--net", l.net, "-p", fmt.Sprintf("%d:%d", hostPort, httpdPort), "--alias", "www")
	ip, mac := l.h.epIP(web, l.net), macOf(t, web)
	l.reachable(web, ip, hostPort, time.Now())

	bystander := testutil.UniqueName("pn")
	dockertest.RunNone(t, bystander)
	detached := testutil.UniqueName("pd")
	detachedID := dockertest.RunNone(t, detached)
	l.h.must("attach", detached, "--net", l.net)
	l.h.must("detach", detached)

	// The daemon takes the starts in order: once web is back, the two
	// before it have been handled.
	seen, seenDetached := l.starts.count(id), l.starts.count(detachedID)
	for _, c := range []string{bystander, detached, web} {
		if out, err := dockerCLI("restart", "-t", "0", c); err != nil {
			t.Fatalf("docker restart %s: %v\n%s", c, err, out)
		}
	}
	l.starts.nth(t, detachedID, seenDetached+1)
	port, ping := l.reachable(web, ip, hostPort, l.starts.nth(t, id, seen+1))
	logTimes(t, "docker restart", port, ping)
	if got := l.dig("www"); got != ip {
		t.Errorf("alias www resolves to %q from the client, want %s", got, ip)
	}
	if got := macOf(t, web); got != mac {
		t.Errorf("MAC after the restart %s, want %s", got, mac)
	}
	checkFiles(t, web, ip)
	if out, err := httpGetFromHost(l, hostPort); !strings.Contains(out, "hello "+web) {
		t.Errorf("published port from the host namespace: %v\n%s", err, out)
	}
	for _, c := range []string{bystander, detached} {
		if got := linksOf(t, c); got != "lo" {
			t.Errorf("container %s, which plumb did not attach (any more), has %q after its restart, want lo alone", c, got)
		}
	}
	if out := l.h.must("ps"); strings.Contains(out, bystander) || strings.Contains(out, detached) || !strings.Contains(out, "up") {
		t.Errorf("ps after the restarts:\n%s", out)
	}
	if e := l.h.endpointOf(web, l.net); e.State != "up" || e.IP.Addr().String() != ip || e.MAC != mac {
		t.Errorf("web's endpoint after the restart: %s %s %s, want up %s %s", e.State, e.IP, e.MAC, ip, mac)
	}
	l.finish()
}

// TestPrivilegedDockerRestartStopStart: `docker stop` then `docker start`
// re-attaches as a restart does; and a start the daemon did not see (it
// was not running) is caught up on when a daemon starts.
func TestPrivilegedDockerRestartStopStart(t *testing.T) {
	l := newRestartLab(t, "10.231.81.0/24")
	web := testutil.UniqueName("pw")
	id := l.runHTTPD(web)
	l.h.must("attach", web, "--net", l.net, "-p", fmt.Sprintf("%d:%d", hostPort, httpdPort))
	ip, mac := l.h.epIP(web, l.net), macOf(t, web)

	seen := l.starts.count(id)
	for _, args := range [][]string{{"stop", "-t", "0", web}, {"start", web}} {
		if out, err := dockerCLI(args...); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	port, ping := l.reachable(web, ip, hostPort, l.starts.nth(t, id, seen+1))
	logTimes(t, "docker stop, docker start", port, ping)
	if got := macOf(t, web); got != mac {
		t.Errorf("MAC after stop and start %s, want %s", got, mac)
	}
	checkFiles(t, web, ip)

	// No daemon while it restarts: nothing re-attaches it; a daemon that
	// starts catches up.
	l.h.stopDaemon()
	if out, err := dockerCLI("restart", "-t", "0", web); err != nil {
		t.Fatalf("docker restart: %v\n%s", err, out)
	}
	if got := linksOf(t, web); got != "lo" {
		t.Fatalf("restarted with no daemon running, %s has %q", web, got)
	}
	began := time.Now()
	d := l.h.command(nil, "daemon", "--exit-when-idle")
	logf, err := os.OpenFile(filepath.Join(l.h.runDir, "daemon.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Signal(syscall.SIGTERM); d.Wait() })
	port, ping = l.reachable(web, ip, hostPort, began)
	t.Logf("daemon start -> published port answers %v, ping %v (catch-up)", port.Round(time.Millisecond), ping.Round(time.Millisecond))
	checkFiles(t, web, ip)
	l.finish()
}

// TestPrivilegedDockerRestartSandbox: a sandbox holder with a restart
// policy whose process dies (killed from the host by its pid: `docker
// kill` would not restart it) is started again by Docker and re-attached
// by the daemon with its address and name.
func TestPrivilegedDockerRestartSandbox(t *testing.T) {
	l := newRestartLab(t, "10.231.82.0/24")
	sb := "plumb-sb-" + testutil.UniqueName("")
	t.Cleanup(func() {
		if out, err := l.h.run("sandbox", "rm", sb); err != nil {
			t.Errorf("cleanup: sandbox rm: %v\n%s", err, out)
		}
		dockertest.Remove(t, sb)
	})
	l.h.must("sandbox", "create", sb, "--net", l.net, "--alias", "holder")
	if out, err := dockerCLI("update", "--restart=always", sb); err != nil {
		t.Fatalf("docker update --restart=always: %v\n%s", err, out)
	}
	ip := l.h.epIP(sb, l.net)
	l.reachable(sb, ip, 0, time.Now())
	id := strings.TrimSpace(mustDocker(t, "inspect", "-f", "{{.Id}}", sb))
	pid, _, _ := dockertest.Inspect(t, sb)
	seen := l.starts.count(id)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the holder's process %d: %v", pid, err)
	}
	_, ping := l.reachable(sb, ip, 0, l.starts.nth(t, id, seen+1))
	logTimes(t, "sandbox holder killed, restart policy", 0, ping)
	if got := l.dig("holder"); got != ip {
		t.Errorf("alias holder resolves to %q, want %s", got, ip)
	}
	if e := l.h.endpointOf(sb, l.net); e.State != "up" {
		t.Errorf("the holder's endpoint is %s (%s), want up\n%s\ndaemon log:\n%s", e.State, e.Reason,
			mustDocker(t, "inspect", "-f", "{{.RestartCount}} {{.State.Status}} {{.State.Pid}} {{.State.ExitCode}} {{.State.StartedAt}} {{.State.FinishedAt}}", sb), l.daemonLog())
	}
	l.finish()
}

// checkFiles checks that the container's /etc/hosts has its line again
// and its resolv.conf points at 127.0.0.11: Docker wrote both anew when
// it started the container.
func checkFiles(t *testing.T, name, ip string) {
	t.Helper()
	if out, err := dockertest.Exec(t, name, "cat", "/etc/hosts"); err != nil || !strings.Contains(out, ip) {
		t.Errorf("/etc/hosts in %s lacks %s: %v\n%s", name, ip, err, out)
	}
	if out, err := dockertest.Exec(t, name, "cat", "/etc/resolv.conf"); err != nil || !strings.Contains(out, "nameserver 127.0.0.11") {
		t.Errorf("/etc/resolv.conf in %s does not point at 127.0.0.11: %v\n%s", name, err, out)
	}
}

// httpGetFromHost fetches the published port on 127.0.0.1 from the test's
// host namespace.
func httpGetFromHost(l *restartLab, port int) (string, error) {
	return testutil.InNS(l.h.ns, "curl", "-s", "--max-time", "5", fmt.Sprintf("http://127.0.0.1:%d/", port))
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
