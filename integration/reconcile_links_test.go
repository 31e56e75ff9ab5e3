package integration

import (
	"strings"
	"syscall"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedReconcileLinkDrift (issue 14, tests: delete a bridge,
// flush its address, set it down, delete a host veth): each drift of a
// network's bridge or of an endpoint's host veth, made by hand in the
// host, is repaired with no command run: the target reaches its gateway
// again, `plumb ps` says up, and inside the target the interface has the
// same address and MAC as before; the published port answers again.
func TestPrivilegedReconcileLinkDrift(t *testing.T) {
	h := newHost(t)
	const gw = "10.233.10.1"
	h.must("network", "create", "ld", "--subnet", "10.233.10.0/24")
	x, y := target(t), target(t)
	serve(t, x, 80, "x")
	h.must("attach", "netns:"+x, "--net", "ld", "-p", "8185:80")
	h.must("attach", "netns:"+y, "--net", "ld")
	br := bridgeOf(t, h, "ld")
	ex, ey := h.endpointOf("netns:"+x, "ld"), h.endpointOf("netns:"+y, "ld")
	idX, idY := identityIn(x, ex.IfName), identityIn(y, ey.IfName)
	if idX.addr != ex.IP.String() || idX.mac != ex.MAC || idY.addr != ey.IP.String() {
		t.Fatalf("before any drift: x has %+v (record %s %s), y %+v (record %s)", idX, ex.IP, ex.MAC, idY, ey.IP)
	}
	cases := []struct {
		name  string
		drift [][]string // commands in h
	}{
		{"bridge deleted", [][]string{{"ip", "link", "del", br}}},
		{"bridge address flushed", [][]string{{"ip", "addr", "flush", "dev", br}}},
		{"bridge down", [][]string{{"ip", "link", "set", br, "down"}}},
		{"host veth deleted", [][]string{{"ip", "link", "del", ex.HostVeth}}},
		{"host veth down", [][]string{{"ip", "link", "set", ex.HostVeth, "down"}}},
		{"host veth off its bridge", [][]string{{"ip", "link", "set", ex.HostVeth, "nomaster"}}},
		{"both host veths deleted", [][]string{{"ip", "link", "del", ex.HostVeth}, {"ip", "link", "del", ey.HostVeth}}},
	}
	for _, c := range cases {
		before := len(h.logLines("plumb daemon: repaired"))
		for _, cmd := range c.drift {
			mustSh(t, h, cmd[0], cmd[1:]...)
		}
		waitRepaired(t, c.name, func() bool {
			return ping(x, gw) && ping(y, gw) &&
				identityIn(x, ex.IfName) == idX && identityIn(y, ey.IfName) == idY &&
				tcpFrom(h.ns, "127.0.0.1:8185") == "hello from x" && h.whole()
		}, h.wholeDetail, func() string {
			return "x: " + strings.Join([]string{identityIn(x, ex.IfName).addr, identityIn(x, ex.IfName).mac}, " ")
		})
		if got := h.endpointOf("netns:"+x, "ld"); got.State != "up" || got.HostVeth != ex.HostVeth || got.IP != ex.IP || got.MAC != ex.MAC {
			t.Errorf("%s: ps says %s %s %s %s, want up %s %s %s", c.name, got.State, got.HostVeth, got.IP, got.MAC, ex.HostVeth, ex.IP, ex.MAC)
		}
		lines := h.logLines("plumb daemon: repaired")
		if len(lines) <= before {
			t.Errorf("%s: repaired with no line in the daemon's log", c.name)
		}
		for _, l := range lines[before:] {
			t.Logf("%s: %s", c.name, l)
		}
	}
}

// TestPrivilegedReconcileForeignName (issue 14, section 1: a name plumb
// used that now belongs to something else is reported, never deleted):
// the bridge replaced by a dummy link of the same name (a veth where the
// kernel has no dummy driver) stays, the daemon saying why it does not
// repair; once that link is gone the bridge comes back, and the endpoint
// with it.
func TestPrivilegedReconcileForeignName(t *testing.T) {
	h := newHost(t)
	const gw = "10.233.11.1"
	h.must("network", "create", "fn", "--subnet", "10.233.11.0/24")
	x := target(t)
	h.must("attach", "netns:"+x, "--net", "fn")
	br := bridgeOf(t, h, "fn")
	// Swapped while the daemon is stopped, so that it sees the dummy link
	// and never a moment without a link of that name.
	pid := h.daemonPID()
	if pid == 0 {
		t.Fatal("no daemon runs after network create")
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	mustSh(t, h, "ip", "link", "del", br)
	kind := "dummy"
	if out, err := h.sh("ip", "link", "add", br, "type", "dummy"); err != nil {
		// A kernel without the dummy driver: a veth pair is as foreign.
		t.Logf("no dummy link here (%s): a veth instead", strings.TrimSpace(out))
		kind = "veth"
		mustSh(t, h, "ip", "link", "add", br, "type", "veth", "peer", "name", testutil.UniqueName("fp"))
	}
	syscall.Kill(pid, syscall.SIGCONT)
	stopped = false
	refused := func() int { return len(h.logLines("network fn", "not repaired", "never touches")) }
	// Three refusals: the daemon looked again on its periodic pass, and
	// left it.
	waitRepaired(t, "nothing (refused three times)", func() bool { return refused() >= 3 }, h.daemonLog)
	t.Logf("%s", h.logLines("network fn", "not repaired")[0])
	if k := linkKind(h, br); k != kind {
		t.Fatalf("the daemon touched the %s link %s: now %s", kind, br, k)
	}
	if ok, _ := h.doctorClean(); ok {
		t.Errorf("doctor finds nothing wrong with a %s link in the bridge's place", kind)
	}
	mustSh(t, h, "ip", "link", "del", br)
	waitRepaired(t, "the bridge back once the dummy link is gone", func() bool {
		return linkKind(h, br) == "bridge" && ping(x, gw) && h.whole()
	}, h.wholeDetail)
}
