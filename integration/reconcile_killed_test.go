package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/lockfile"
	"github.com/plumbnet/plumb/internal/testutil"
)

// A killed `network create` or `network rm` leaves a network's directory
// without all of its kernel side. To kill one at a known step, the test
// holds RUNDIR/firewall.lock, which orders every write of plumb's rules
// and of its localnet guard: a create blocks on it right after its state
// is written (its next step is the guard), an rm once its rules are gone
// and its bridge deleted (its next step is the guard's removal).

// fwLock takes h's firewall lock as a plumb process would.
func fwLock(t *testing.T, h *host) *lockfile.Lock {
	t.Helper()
	l, err := lockfile.Acquire(filepath.Join(h.runDir, "firewall.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// startPlumb starts plumb args in h and returns it, with a channel
// closed once it exited; it is killed at cleanup if it still runs.
func startPlumb(t *testing.T, h *host, args ...string) (*exec.Cmd, chan struct{}) {
	t.Helper()
	c := h.command(nil, args...)
	var out strings.Builder
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	t.Cleanup(func() { c.Process.Kill(); <-done })
	return c, done
}

// kill SIGKILLs c, which must not have exited on its own, and waits.
func kill(t *testing.T, c *exec.Cmd, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
		t.Fatalf("%v exited by itself before its kill", c.Args)
	default:
	}
	c.Process.Signal(syscall.SIGKILL)
	<-done
}

// netRules are the lines of plumb:NAME in h's iptables-save.
func netRules(t *testing.T, h *host, name string) int {
	return strings.Count(shOut(t, h, "iptables-save"), `"plumb:`+name+`"`)
}

// TestPrivilegedReconcileKilledCreateRm (issue 14, tests: a killed
// `network create` / `network rm`): a create killed right after it wrote
// the network's directory (no guard, bridge or rule yet) and an rm killed
// after it removed the rules and the bridge (its directory still there)
// leave networks that the running daemon makes whole with no command run:
// bridge, guard and rules back, doctor clean; the daemon logs the repair.
func TestPrivilegedReconcileKilledCreateRm(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "kk", "--subnet", "10.233.20.0/24") // starts the daemon
	if h.daemonPID() == 0 {
		t.Fatal("no daemon runs after network create")
	}
	x := target(t)
	h.must("attach", "netns:"+x, "--net", "kk")

	// create, killed once its directory is in place.
	lock := fwLock(t, h)
	defer lock.Unlock()
	c, done := startPlumb(t, h, "network", "create", "kc", "--subnet", "10.233.21.0/24")
	waitFor(t, func() bool {
		_, err := os.Stat(filepath.Join(h.state, "networks", "kc", "network.json"))
		return err == nil
	}, "the create to write the network's directory")
	kill(t, c, done)
	br := bridgeOf(t, h, "kc")
	if k := linkKind(h, br); k != "absent" || netRules(t, h, "kc") != 0 || guardPresent(t, h, []string{br}) {
		t.Fatalf("the killed create made more than its directory: bridge %s, %d rules, guard %v", k, netRules(t, h, "kc"), guardPresent(t, h, []string{br}))
	}
	lock.Unlock()
	waitRepaired(t, "the network of the killed create", func() bool {
		return linkKind(h, br) == "bridge" && netRules(t, h, "kc") > 0 && guardPresent(t, h, []string{br}) && h.whole()
	}, h.wholeDetail)
	if len(h.logLines("repaired network kc")) == 0 {
		t.Errorf("no repair of kc in the daemon's log:\n%s", h.daemonLog())
	}
	y := target(t)
	h.must("attach", "netns:"+y, "--net", "kc")
	if !pingSoon(y, "10.233.21.1") {
		t.Error("a target attached to the repaired network cannot reach its gateway")
	}
	h.must("detach", "netns:"+y)

	// rm, killed once its rules and its bridge are gone.
	lock = fwLock(t, h)
	c, done = startPlumb(t, h, "network", "rm", "kc")
	// Let the rm through the lock once: it removes the rules; the next
	// lock it waits for is the guard's, once the bridge is deleted.
	deadline := time.Now().Add(repairDeadline)
	for netRules(t, h, "kc") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the rm never removed the network's rules")
		}
		lock.Unlock()
		time.Sleep(20 * time.Millisecond) // the rm's turn: not a wait for a repair
		lock = fwLock(t, h)
	}
	waitFor(t, func() bool { return linkKind(h, br) == "absent" }, "the rm to delete the bridge")
	kill(t, c, done)
	if _, err := os.Stat(filepath.Join(h.state, "networks", "kc", "network.json")); err != nil {
		t.Fatalf("the killed rm removed the network's config: %v", err)
	}
	if !guardPresent(t, h, []string{br}) {
		t.Fatal("the killed rm removed the guard: it was not killed where the test meant")
	}
	lock.Unlock()
	before := len(h.logLines("repaired network kc"))
	waitRepaired(t, "the network of the killed rm", func() bool {
		return linkKind(h, br) == "bridge" && netRules(t, h, "kc") > 0 && h.whole()
	}, h.wholeDetail)
	if len(h.logLines("repaired network kc")) <= before {
		t.Errorf("no repair of kc in the daemon's log after the killed rm:\n%s", h.daemonLog())
	}
	// And the rm, run again, removes it whole.
	h.must("network", "rm", "kc")
	if k := linkKind(h, br); k != "absent" || netRules(t, h, "kc") != 0 {
		t.Errorf("after rm: bridge %s, %d rules of kc", k, netRules(t, h, "kc"))
	}
	if !pingSoon(x, "10.233.20.1") {
		t.Error("the other network's target cannot reach its gateway")
	}
}

// TestPrivilegedReconcileCutDetach: a detach cut short after it retired
// the endpoint's pair (PLUMB_INJECT_FAULT=reap: the pair is taken down and
// renamed, its deletion never asked of the daemon, the record kept, so
// that the detach can be repeated) leaves an endpoint the daemon attaches
// again, with its address. The retired pair, which still holds that
// address in the target, must go with the repair: the target holds its
// address once, no retired pair is left in the host, doctor is clean.
func TestPrivilegedReconcileCutDetach(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "cd", "--subnet", "10.233.22.0/24")
	x := target(t)
	h.must("attach", "netns:"+x, "--net", "cd")
	ep := h.endpointOf("netns:"+x, "cd")
	if out, err := h.command([]string{"PLUMB_INJECT_FAULT=reap"}, "detach", "netns:"+x).CombinedOutput(); err == nil {
		t.Fatalf("detach with its reap step failing succeeded:\n%s", out)
	}
	if readState(t, h.state).rec("cd", ep.ID) == nil {
		t.Fatal("the cut detach removed the record: nothing for the daemon to repair")
	}
	retired := func() string {
		var out []string
		for _, name := range vethNames(t, h, "") {
			if strings.HasPrefix(name, "pgone") {
				out = append(out, name)
			}
		}
		return strings.Join(out, " ")
	}
	waitRepaired(t, "the endpoint of the cut detach, its retired pair gone", func() bool {
		return identityIn(x, ep.IfName).addr == ep.IP.String() && pingSoon(x, "10.233.22.1") &&
			len(duplicates(readState(t, h.state), []string{x})) == 0 && retired() == "" && h.whole()
	}, h.wholeDetail, func() string {
		out, _ := testutil.InNS(x, "ip", "-o", "-4", "addr")
		return "retired pairs in the host: " + retired() + "\naddresses in the target:\n" + out
	})
}
