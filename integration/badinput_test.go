package integration

import (
	"strings"
	"testing"
)

// TestPrivilegedBadInputChangesNothing feeds each kind of bad input to a
// host with networks and endpoints, and checks each fails with exit code 1,
// one line naming the bad value, and no change to firewall, links or state.
func TestPrivilegedBadInputChangesNothing(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "good", "--subnet", "10.231.11.0/24")
	h.must("network", "create", "tiny", "--subnet", "10.231.12.0/30") // one address besides the gateway
	h.must("network", "create", "inner", "--internal", "--subnet", "10.231.16.0/24")
	mustSh(t, h, "ip", "link", "add", "hostroute0", "type", "veth", "peer", "name", "hostroute1")
	mustSh(t, h, "ip", "addr", "add", "10.231.13.1/24", "dev", "hostroute0")
	a, b, c := target(t), target(t), target(t)
	h.must("attach", "netns:"+a, "--net", "good", "--ip", "10.231.11.7")
	h.must("attach", "netns:"+b, "--net", "tiny")

	before, state := h.snapshot(), stateFiles(t, h.state)
	cases := []badInput{
		{[]string{"network", "create", "x", "--subnet", "10.231.11.128/25"}, "10.231.11.128/25"},
		{[]string{"network", "create", "x", "--subnet", "10.231.13.0/24"}, "10.231.13.0/24"},
		{[]string{"network", "create", "x", "--subnet", "10.231.14.0/24", "--gateway", "10.231.15.1"}, "10.231.15.1"},
		{[]string{"network", "create", "x", "--subnet", "10.231.14.0/24", "--bridge", "way-too-long-bridge"}, "way-too-long-bridge"},
		{[]string{"network", "create", "x/y"}, "x/y"},
		{[]string{"network", "create", "good"}, "good"},
		{[]string{"network", "create", "x", "--subnet", "10.231.14.0/24", "--bridge", "hostroute0"}, "hostroute0"},
		// Subnets a bridge cannot serve, and a bridge name that reads as
		// an address (issue 13, defect 8).
		{[]string{"network", "create", "x", "--subnet", "127.0.0.0/8"}, "127.0.0.0/8"},
		{[]string{"network", "create", "x", "--subnet", "127.5.0.0/16"}, "127.5.0.0/16"},
		{[]string{"network", "create", "x", "--subnet", "224.0.0.0/4"}, "224.0.0.0/4"},
		{[]string{"network", "create", "x", "--subnet", "240.0.0.0/4"}, "240.0.0.0/4"},
		{[]string{"network", "create", "x", "--subnet", "0.0.0.0/8"}, "0.0.0.0/8"},
		{[]string{"network", "create", "x", "--subnet", "169.254.0.0/16"}, "169.254.0.0/16"},
		{[]string{"network", "create", "x", "--subnet", "10.231.14.0/31"}, "10.231.14.0/31"},
		{[]string{"network", "create", "x", "--subnet", "10.231.14.0/24", "--bridge", "127.0.0.1"}, "127.0.0.1"},
		{[]string{"attach", "netns:" + c, "--net", "nope"}, "nope"},
		{[]string{"attach", "netns:no-such-ns", "--net", "good"}, "no-such-ns"},
		{[]string{"attach", "pid:999999999", "--net", "good"}, "999999999"},
		{[]string{"attach", "netns:" + c, "--net", "good", "--ip", "10.231.11.7"}, "10.231.11.7"},
		{[]string{"attach", "netns:" + c, "--net", "good", "--ip", "10.231.99.7"}, "10.231.99.7"},
		{[]string{"attach", "netns:" + c, "--net", "good", "--ip", "10.231.11.1"}, "10.231.11.1"},
		{[]string{"attach", "netns:" + c, "--net", "tiny"}, "no free address"},
		{[]string{"attach", "netns:" + c, "--net", "good", "--mac", "nonsense"}, "nonsense"},
		{[]string{"attach", "netns:" + c, "--net", "good", "--ifname", "lo"}, "lo"},
		{[]string{"attach", "netns:" + c, "--net", "good", "--ifname", "much-too-long-name"}, "much-too-long-name"},
		{[]string{"attach", "netns:" + c, "--net", "good", "-p", "8000-8002:9000-9005"}, "8000-8002:9000-9005"},
		{[]string{"attach", "netns:" + c, "--net", "good", "-p", "192.0.2.1:8080:80"}, "192.0.2.1"},
		{[]string{"attach", "netns:" + c, "--net", "inner", "-p", "8080:80"}, "inner"},
		{[]string{"network", "rm", "good"}, "good"},
	}
	checkBadInput(t, h, before, state, cases)
}

// badInput is a command that must fail naming want.
type badInput struct {
	args []string
	want string
}

// checkBadInput runs each case on h and checks it fails with exit code 1
// and one line naming its value, and leaves the host (before) and the
// state files (state) as they were.
func checkBadInput(t *testing.T, h *host, before, state string, cases []badInput) {
	t.Helper()
	for _, tc := range cases {
		out, err := h.run(tc.args...)
		code := -1
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
		if code != 1 {
			t.Errorf("plumb %s: exit %d, want 1 (%q)", strings.Join(tc.args, " "), code, out)
		}
		if strings.Count(strings.TrimRight(out, "\n"), "\n") != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("plumb %s: want one line naming %q, got %q", strings.Join(tc.args, " "), tc.want, out)
		}
		if got := h.snapshot(); got != before {
			t.Fatalf("plumb %s changed the host:\n%s\nwas:\n%s", strings.Join(tc.args, " "), got, before)
		}
		if got := stateFiles(t, h.state); got != state {
			t.Fatalf("plumb %s changed the state:\n%s\nwas:\n%s", strings.Join(tc.args, " "), got, state)
		}
	}
}
