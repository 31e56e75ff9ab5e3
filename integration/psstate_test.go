package integration

import (
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedPsTellsTheKernel (issue 13, section 1 and defect 9): ps's
// STATE is what the kernel holds, not what the record says: each thing
// taken away shows with its reason, and `plumb port` says the mapping does
// not answer.
func TestPrivilegedPsTellsTheKernel(t *testing.T) {
	h := newHost(t)
	// What is taken away is for ps to tell: the daemon leaves it.
	h.env = append(h.env, "PLUMB_RECONCILE=off")
	h.must("network", "create", "st", "--subnet", "10.231.42.0/24")
	x := target(t)
	h.must("attach", "netns:"+x, "--net", "st", "-p", "8096:80")
	ep := h.endpointOf("netns:"+x, "st")
	if ep.State != "up" {
		t.Fatalf("fresh endpoint: %s %s", ep.State, ep.Reason)
	}
	cases := []struct {
		name, state, reason string
		breakIt, mend       [][]string // commands in h (or, with "target", in x)
	}{
		{"host veth down", "down", "veth", [][]string{{"ip", "link", "set", ep.HostVeth, "down"}}, [][]string{{"ip", "link", "set", ep.HostVeth, "up"}}},
		// Its default route goes with it: broken, and down.
		{"peer down", "broken", "down: interface eth0", [][]string{{"target", "ip", "link", "set", "eth0", "down"}}, [][]string{{"target", "ip", "link", "set", "eth0", "up"}, {"target", "ip", "route", "add", "default", "via", "10.231.42.1"}}},
		{"address gone", "broken", "address " + ep.IP.String(), [][]string{{"target", "ip", "addr", "del", ep.IP.String(), "dev", "eth0"}}, [][]string{{"target", "ip", "addr", "add", ep.IP.String(), "dev", "eth0"}, {"target", "ip", "route", "add", "default", "via", "10.231.42.1"}}},
		{"route gone", "broken", "default route", [][]string{{"target", "ip", "route", "del", "default"}}, [][]string{{"target", "ip", "route", "add", "default", "via", "10.231.42.1"}}},
		{"port rules gone", "broken", "published port rules", [][]string{{"iptables", "-t", "nat", "-F", "PLUMB-PREROUTING"}}, nil},
	}
	for _, c := range cases {
		for _, cmd := range c.breakIt {
			run(t, h, x, cmd)
		}
		got := h.endpointOf("netns:"+x, "st")
		if got.State != c.state || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("%s: ps says %s (%s), want %s naming %q", c.name, got.State, got.Reason, c.state, c.reason)
		}
		if c.state != "up" {
			if out, err := h.run("port", "netns:"+x); err == nil || strings.Contains(out, "->") {
				t.Errorf("%s: plumb port still gives the mapping: %v %s", c.name, err, out)
			}
		}
		for _, cmd := range c.mend {
			run(t, h, x, cmd)
		}
		if c.mend == nil {
			h.must("doctor", "--fix")
		}
		if got := h.endpointOf("netns:"+x, "st"); got.State != "up" {
			t.Fatalf("%s mended: ps says %s (%s)", c.name, got.State, got.Reason)
		}
	}
	h.stopDaemon()
	if got := h.endpointOf("netns:"+x, "st"); got.State != "broken" || !strings.Contains(got.Reason, "127.0.0.11 listener") {
		t.Errorf("daemon stopped: ps says %s (%s)", got.State, got.Reason)
	}
	testutil.Run(t, "ip", "netns", "del", x)
	if got := h.endpointOf("netns:"+x, "st"); got.State != "stale" {
		t.Errorf("namespace deleted: ps says %s (%s)", got.State, got.Reason)
	}
}

// run runs cmd in h, or in target x when it starts with "target".
func run(t *testing.T, h *host, x string, cmd []string) {
	t.Helper()
	if cmd[0] == "target" {
		if out, err := testutil.InNS(x, cmd[1], cmd[2:]...); err != nil {
			t.Fatalf("%v in %s: %v %s", cmd[1:], x, err, out)
		}
		return
	}
	mustSh(t, h, cmd[0], cmd[1:]...)
}
