package integration

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedSandboxDryRun: `sandbox create --dry-run` in host A
// changes nothing (no container, no state file, no link, no rule) and
// prints the `docker run` and the veth, address and route commands; that
// script, run with bash in host B (whose network the dry run of network
// create made, so that both have the same network id), makes a holder
// attached as the real create attaches A's: same address, interface and
// routes inside, a live endpoint in `plumb ps`. Then `sandbox rm
// --dry-run` changes nothing and its script removes B's holder and
// endpoint.
func TestPrivilegedSandboxDryRun(t *testing.T) {
	dockertest.Require(t)
	a, b := newHost(t), newHost(t)
	id := testutil.UniqueName("")
	na, nb := "plumb-sd-a-"+id, "plumb-sd-b-"+id
	t.Cleanup(func() { dockertest.Remove(t, na); dockertest.Remove(t, nb) })
	runScript(t, b, strings.ReplaceAll(a.must("network", "create", "sd", "--subnet", "10.124.0.0/24", "--dry-run"), a.state, b.state))
	a.must("network", "create", "sd", "--subnet", "10.124.0.0/24")
	subst := strings.NewReplacer(a.state, b.state, na, nb)

	before := sbDryView(t, a)
	script := a.must("sandbox", "create", na, "--net", "sd", "--dry-run")
	if after := sbDryView(t, a); after != before {
		t.Fatalf("sandbox create --dry-run changed host A:\n%s", diffLines(before, after))
	}
	if dockertest.Exists(t, na) {
		t.Fatalf("sandbox create --dry-run made container %s", na)
	}
	for _, want := range []string{"docker run -d --name " + na + " ", "type veth peer name eth0 ", "netns /proc/\"$pid\"/ns/net",
		"ip addr add 10.124.0.2/24 dev eth0", "ip route add default via 10.124.0.1 dev eth0"} {
		if !strings.Contains(script, want) {
			t.Errorf("the script lacks %q:\n%s", want, script)
		}
	}
	runScript(t, b, subst.Replace(script))
	a.must("sandbox", "create", na, "--net", "sd")
	if ia, ib := holderInside(t, na), holderInside(t, nb); ia != ib {
		t.Fatalf("the script's holder differs from plumb's:\n%s", diffLines(ia, ib))
	}
	if ps := b.must("ps"); !strings.Contains(ps, nb) || !strings.Contains(ps, "10.124.0.2") || strings.Contains(ps, "stale") {
		t.Fatalf("plumb ps in host B after the script:\n%s", ps)
	}

	before = sbDryView(t, b)
	rm := b.must("sandbox", "rm", nb, "--dry-run")
	if after := sbDryView(t, b); after != before || !dockertest.Exists(t, nb) {
		t.Fatalf("sandbox rm --dry-run changed host B:\n%s", diffLines(before, after))
	}
	if !strings.Contains(rm, "docker rm -f "+nb) {
		t.Errorf("the rm script lacks docker rm:\n%s", rm)
	}
	runScript(t, b, rm)
	if dockertest.Exists(t, nb) {
		t.Fatalf("the rm script left container %s", nb)
	}
	if ps := b.must("ps"); strings.Contains(ps, nb) {
		t.Fatalf("plumb ps in host B after the rm script:\n%s", ps)
	}
}

// TestPrivilegedSandboxDryRunBadInput: a bad name or network with
// --dry-run is one line naming it and exit 1; both are refused before any
// call to dockerd, so it needs none.
func TestPrivilegedSandboxDryRunBadInput(t *testing.T) {
	h := newHost(t)
	for _, c := range [][]string{
		{"sandbox", "create", "bad/name", "--net", "x", "--dry-run"},
		{"sandbox", "create", "plumb-sd-nonet", "--net", "nope", "--dry-run"},
	} {
		bad := c[2]
		if c[4] == "nope" {
			bad = "nope"
		}
		out, err := h.run(c...)
		var ee *exec.ExitError
		if !asExit(err, &ee) || ee.ExitCode() != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, bad) {
			t.Errorf("plumb %s: %v, output %q; want one line naming %q, exit 1", strings.Join(c, " "), err, out, bad)
		}
	}
}

// sbDryView is what a sandbox dry run must not change in host h: its
// links, rules and state files.
func sbDryView(t *testing.T, h *host) string {
	t.Helper()
	ipt, _ := h.sh("iptables-save")
	var v strings.Builder
	for _, l := range strings.Split(ipt, "\n") {
		if !strings.HasPrefix(l, "#") {
			v.WriteString(counterRE.ReplaceAllString(l, "") + "\n")
		}
	}
	return v.String() + dryLinks(t, "ip", "netns", "exec", h.ns) + dryStateFiles(h.state)
}

// holderInside lists the links and routes inside container name's
// namespace.
func holderInside(t *testing.T, name string) string {
	t.Helper()
	pid, _, _ := dockertest.Inspect(t, name)
	pre := []string{"nsenter", "-t", itoa(pid), "-n"}
	r, err := exec.Command("nsenter", "-t", itoa(pid), "-n", "ip", "route", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("routes of %s: %v %s", name, err, r)
	}
	return dryLinks(t, pre...) + string(r)
}
