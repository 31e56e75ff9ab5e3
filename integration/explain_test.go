package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// explainReport is the part of `plumb explain --format json` the test reads.
type explainReport struct {
	Address string `json:"address"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	Steps   []struct {
		Detail string `json:"detail"`
	} `json:"steps"`
	Drift []string `json:"drift"`
	Probe *struct {
		Result string `json:"result"`
		Detail string `json:"detail"`
		Agrees bool   `json:"agrees"`
	} `json:"probe"`
}

// explainIn runs plumb explain in h and returns stdout, stderr and the error.
func explainIn(h *host, args ...string) (string, string, error) {
	c := h.command(nil, append([]string{"explain"}, args...)...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	return out.String(), errb.String(), err
}

// TestPrivilegedExplainMatrix builds the scenarios of issue 15 in a
// throwaway host and checks, for each, that explain's verdict is the one
// expected and that a real probe from SRC agrees with it. A mismatch
// names the scenario and whether explain or plumb is wrong: explain
// disagreeing with the probe is explain's bug (or plumb's, when the probe
// also disagrees with what plumb means).
func TestPrivilegedExplainMatrix(t *testing.T) {
	h := newHost(t)
	mustSh(t, h, "ip", "link", "set", "lo", "up")
	out, _ := outside(t, h)
	const hostIP = "198.51.100.1"
	h.must("network", "create", "xa", "--subnet", "10.231.70.0/24")
	h.must("network", "create", "xb", "--subnet", "10.231.71.0/24")
	h.must("network", "create", "xi", "--subnet", "10.231.72.0/24", "--internal")
	h.must("network", "create", "xc", "--subnet", "10.231.73.0/24", "--icc=false")
	a1, a2, b1, i1, c1, c2 := target(t), target(t), target(t), target(t), target(t), target(t)
	for _, ns := range []string{a1, b1, c1} {
		serve(t, ns, 80, ns)
	}
	h.must("attach", "netns:"+a1, "--net", "xa", "--ip", "10.231.70.2", "-p", "8080:80", "-p", "127.0.0.1:9090:80")
	h.must("attach", "netns:"+a2, "--net", "xa", "--ip", "10.231.70.3")
	h.must("attach", "netns:"+b1, "--net", "xb", "--ip", "10.231.71.2")
	h.must("attach", "netns:"+i1, "--net", "xi", "--ip", "10.231.72.2")
	h.must("attach", "netns:"+c1, "--net", "xc", "--ip", "10.231.73.2")
	h.must("attach", "netns:"+c2, "--net", "xc", "--ip", "10.231.73.3")

	cases := []struct{ name, src, dst, want string }{
		{"same network, by name", "netns:" + a2, a1 + ":80", "reachable"},
		{"two networks (isolated)", "netns:" + b1, "10.231.70.2:80", "blocked"},
		{"internal to outside", "netns:" + i1, "198.51.100.2:8080", "no route"},
		{"icc=false neighbours", "netns:" + c2, "10.231.73.2:80", "blocked"},
		{"published port from the host's localhost", "host", "127.0.0.1:8080", "reachable"},
		{"published port from the host's address", "host", hostIP + ":8080", "reachable"},
		{"published port from another host", "netns:" + out, hostIP + ":8080", "reachable"},
		{"published port from a neighbour container", "netns:" + a2, hostIP + ":8080", "reachable"},
		{"published port from its owner (hairpin)", "netns:" + a1, hostIP + ":8080", "reachable"},
		{"loopback-only published port from a neighbour host", "netns:" + out, hostIP + ":9090", "no listener"},
		{"no listener", "netns:" + a1, "10.231.70.3:80", "no listener"},
		{"a name of another network", "netns:" + a1, b1 + ":80", "blocked"},
		{"the gateway's DNS from a non-member", "netns:" + b1, "10.231.70.1:53/udp", "blocked"},
		{"host keyword, nothing listening", "netns:" + a2, "host:81", "no listener"},
		{"a name only upstream DNS could resolve", "netns:" + a1, "no-such-name-xq:80", "not followed"},
	}
	// wantStep: a step's text the verdict must come from, where the
	// verdict alone could come from the wrong step.
	wantStep := map[string]string{
		"loopback-only published port from a neighbour host": "published on loopback only",
		"a name only upstream DNS could resolve":             "not queried",
	}
	for _, c := range cases {
		stdout, stderr, err := explainIn(h, c.src, c.dst, "--probe", "--format", "json")
		if err != nil {
			t.Errorf("%s: plumb explain %s %s: %v\n%s", c.name, c.src, c.dst, err, stderr)
			continue
		}
		var r explainReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Probe == nil {
			t.Errorf("%s: output is not a report with a probe: %v\n%s", c.name, err, stdout)
			continue
		}
		steps := fmt.Sprintf("%+v drift=%v", r.Steps, r.Drift)
		switch {
		case r.Verdict != r.Probe.Result:
			t.Errorf("%s: explain says %q (%s) but the probe says %q (%s): a bug in explain, or in plumb\n%s",
				c.name, r.Verdict, r.Reason, r.Probe.Result, r.Probe.Detail, steps)
		case r.Verdict != c.want:
			t.Errorf("%s: explain and the probe agree on %q (%s), but plumb means %q: a bug in plumb\n%s",
				c.name, r.Verdict, r.Reason, c.want, steps)
		case !r.Probe.Agrees:
			t.Errorf("%s: probe.agrees is false with equal verdicts", c.name)
		case wantStep[c.name] != "" && !strings.Contains(steps, wantStep[c.name]):
			t.Errorf("%s: no step says %q: the verdict comes from elsewhere\n%s", c.name, wantStep[c.name], steps)
		}
	}
	for _, c := range cases[:2] {
		text, _, _ := explainIn(h, c.src, c.dst)
		t.Logf("plumb explain %s %s\n%s", c.src, c.dst, text)
	}
	explainBadInput(t, h, a1)
}

// explainBadInput: an unknown target, a malformed IPv6 port, a probe with
// no port, a malformed port: one line naming it, exit 1, and --probe
// rejected before anything is explained.
func explainBadInput(t *testing.T, h *host, a1 string) {
	for _, c := range []struct{ src, dst, names string }{
		{"netns:no-such-ns-xq", "10.231.70.2:80", "no-such-ns-xq"},
		{"netns:" + a1, "[fd00::1]:x", "[fd00::1]:x"},
		{"netns:" + a1, "10.231.70.3", "--probe"},
		{"netns:" + a1, "10.231.70.3:99999", "99999"},
		{"netns:" + a1, "10.231.70.3:80/sctp", "sctp"},
	} {
		stdout, stderr, err := explainIn(h, c.src, c.dst, "--probe")
		var ee *exec.ExitError
		if err == nil || !asExit(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("explain %s %s: %v, want exit 1\n%s", c.src, c.dst, err, stdout)
			continue
		}
		line := strings.TrimSpace(stderr)
		if strings.Count(line, "\n") > 0 || !strings.Contains(line, c.names) || stdout != "" {
			t.Errorf("explain %s %s: want one line naming %q on stderr, got %q (stdout %q)", c.src, c.dst, c.names, stderr, stdout)
		}
	}
}

func asExit(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}
