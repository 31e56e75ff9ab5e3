package integration

import (
	"os"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedDockerAttach attaches two real `--network=none` containers,
// found through the Docker Engine API by name and by id, and checks they
// reach each other, that Docker's bind-mounted /etc/hosts shows the new
// entry inside the container, and that detach and rm leave no trace.
func TestPrivilegedDockerAttach(t *testing.T) {
	dockertest.Require(t)
	h := rootHost(t)
	before := h.snapshot()
	nameA, nameB := testutil.UniqueName("pa"), testutil.UniqueName("pb")
	dockertest.RunNone(t, nameA)
	idB := dockertest.RunNone(t, nameB)

	h.must("network", "create", "dock-a", "--subnet", "10.231.9.0/24")
	h.must("attach", nameA, "--net", "dock-a")
	h.must("attach", idB[:12], "--net", "dock-a", "--alias", "bee")
	ipA, ipB := h.epIP(nameA, "dock-a"), h.epIP(idB[:12], "dock-a")

	if out, err := dockertest.Exec(t, nameA, "ping", "-c", "1", "-W", "2", ipB); err != nil {
		t.Fatalf("container %s cannot reach %s: %v\n%s", nameA, ipB, err, out)
	}
	out, err := dockertest.Exec(t, nameA, "cat", "/etc/hosts")
	if err != nil || !strings.Contains(out, ipA) || !strings.Contains(out, nameA) {
		t.Fatalf("/etc/hosts inside %s lacks its entry: %v\n%s", nameA, err, out)
	}
	out, _ = dockertest.Exec(t, nameA, "ip", "-o", "addr", "show", "eth0")
	if !strings.Contains(out, ipA+"/24") {
		t.Fatalf("eth0 in %s: %s", nameA, out)
	}
	if out, _ := dockertest.Exec(t, nameB, "ip", "route"); !strings.Contains(out, "default via 10.231.9.1") {
		t.Fatalf("default route in %s: %s", nameB, out)
	}

	// A container that is not running is refused with one clear line.
	stopped := testutil.UniqueName("ps")
	dockertest.RunNone(t, stopped)
	if _, err := dockerCLI("stop", "-t", "0", stopped); err != nil {
		t.Fatal(err)
	}
	if out, err := h.run("attach", stopped, "--net", "dock-a"); err == nil || !strings.Contains(out, "not running") {
		t.Fatalf("attach of a stopped container: %v %q", err, out)
	}
	if out, err := h.run("attach", "no-such-container-xyz", "--net", "dock-a"); err == nil || !strings.Contains(out, "no-such-container-xyz") {
		t.Fatalf("attach of an unknown container: %v %q", err, out)
	}

	// Detach removes the hosts entry from Docker's file in place, and
	// works after the container is gone.
	_, hostsPath, _ := dockertest.Inspect(t, nameA)
	h.must("detach", nameA)
	if b, _ := os.ReadFile(hostsPath); strings.Contains(string(b), ipA) {
		t.Fatalf("hosts entry left in %s:\n%s", hostsPath, b)
	}
	dockertest.Remove(t, nameB)
	h.must("detach", idB[:12])
	if out := h.must("ps"); strings.Contains(out, "dock-a") {
		t.Fatalf("endpoints left after detach:\n%s", out)
	}
	h.must("network", "rm", "dock-a")
	if after := h.snapshot(); after != before {
		t.Fatalf("host changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
}
