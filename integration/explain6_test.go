package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// serve6 runs a TCP server on [::]:port (IPv6 only) in namespace ns
// until the test ends.
func serve6(t *testing.T, ns string, port int) {
	t.Helper()
	var ln net.Listener
	err := inNS(ns, func() error {
		var err error
		ln, err = net.Listen("tcp6", fmt.Sprintf("[::]:%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("IPv6 server in %s: %v", ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello over IPv6\n"))
			c.Close()
		}
	}()
}

// addOutside6 gives the link outside() made between h and out IPv6 too:
// 2001:db8::1 on the host, 2001:db8::2 in out, and in out a route to
// fd00:233::/32 (the test's networks) via the host.
func addOutside6(t *testing.T, h *host, out string) {
	t.Helper()
	hostLink := strings.Fields(mustOut(t, h, "ip", "-o", "-4", "addr", "show", "to", "198.51.100.1/32"))
	outLink := strings.Fields(testutil.Run(t, "ip", "-n", out, "-o", "-4", "addr", "show", "to", "198.51.100.2/32"))
	if len(hostLink) < 2 || len(outLink) < 2 {
		t.Fatalf("the outside link is not found: %q, %q", hostLink, outLink)
	}
	mustSh(t, h, "ip", "addr", "add", "2001:db8::1/64", "dev", hostLink[1], "nodad")
	testutil.Run(t, "ip", "-n", out, "addr", "add", "2001:db8::2/64", "dev", outLink[1], "nodad")
	testutil.Run(t, "ip", "-n", out, "-6", "route", "add", "fd00:233::/32", "via", "2001:db8::1")
}

func mustOut(t *testing.T, h *host, name string, args ...string) string {
	t.Helper()
	out, err := h.sh(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// TestPrivilegedExplainIPv6 is the explain matrix over IPv6, on each
// firewall backend: for each scenario, explain's verdict is the one
// plumb means and a real IPv6 probe from SRC agrees with it.
func TestPrivilegedExplainIPv6(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		mustSh(t, h, "ip", "link", "set", "lo", "up")
		out, _ := outside(t, h)
		addOutside6(t, h, out)
		serve6(t, out, 8080)
		for _, n := range [][]string{
			{"ya", "--subnet", "10.233.70.0/24", "--subnet", "fd00:233:70::/64"},
			{"yb", "--subnet", "10.233.71.0/24", "--subnet", "fd00:233:71::/64"},
			{"yc", "--subnet", "10.233.72.0/24", "--subnet", "fd00:233:72::/64", "--icc=false"},
			{"yi", "--subnet", "10.233.73.0/24", "--subnet", "fd00:233:73::/64", "--internal"},
			{"yr", "--subnet", "10.233.74.0/24", "--subnet", "fd00:233:74::/64", "--gateway-mode-ipv6", "routed"},
			{"y6", "--ipv4=false", "--subnet", "fd00:233:75::/64"},
		} {
			h.must(append([]string{"network", "create", n[0], "--ipv6"}, n[1:]...)...)
		}
		a1, a2, b1, c1, c2, i1, r1, s1, s2 := target(t), target(t), target(t), target(t), target(t), target(t), target(t), target(t), target(t)
		for _, ns := range []string{a1, b1, c1, i1, r1, s1} {
			serve6(t, ns, 80)
		}
		serve6(t, r1, 81)
		h.must("attach", "netns:"+a1, "--net", "ya", "--ip6", "fd00:233:70::2", "-p", "8080:80", "-p", "[::1]:9090:80")
		h.must("attach", "netns:"+a2, "--net", "ya", "--ip6", "fd00:233:70::3")
		h.must("attach", "netns:"+b1, "--net", "yb", "--ip6", "fd00:233:71::2")
		h.must("attach", "netns:"+c1, "--net", "yc", "--ip6", "fd00:233:72::2")
		h.must("attach", "netns:"+c2, "--net", "yc", "--ip6", "fd00:233:72::3")
		h.must("attach", "netns:"+i1, "--net", "yi", "--ip6", "fd00:233:73::2")
		h.must("attach", "netns:"+r1, "--net", "yr", "--ip6", "fd00:233:74::2", "-p", "8081:80")
		h.must("attach", "netns:"+s1, "--net", "y6", "--ip6", "fd00:233:75::2")
		h.must("attach", "netns:"+s2, "--net", "y6", "--ip6", "fd00:233:75::3")

		cases := []struct{ name, src, dst, flag, want, step string }{
			{"same network over IPv6", "netns:" + a2, "[fd00:233:70::2]:80", "", "reachable", "within network ya (icc)"},
			{"same network, by name (AAAA)", "netns:" + a2, a1 + ":80", "-6", "reachable", "→ fd00:233:70::2"},
			{"an IPv6-only network, by name", "netns:" + s2, s1 + ":80", "", "reachable", "→ fd00:233:75::2"},
			{"two networks (isolated)", "netns:" + b1, "[fd00:233:70::2]:80", "", "blocked", "isolated from each other"},
			{"icc=false neighbours", "netns:" + c2, "[fd00:233:72::2]:80", "", "blocked", "--icc=false"},
			{"published port from another host", "netns:" + out, "[2001:db8::1]:8080", "", "reachable", "DNAT to [fd00:233:70::2]:80"},
			{"published port from the host's IPv6 address", "host", "[2001:db8::1]:8080", "", "reachable", "DNAT to [fd00:233:70::2]:80"},
			{"published port from the host's [::1]", "host", "[::1]:8080", "", "reachable", "relays it"},
			{"[::1]-only port from a neighbour host", "netns:" + out, "[2001:db8::1]:9090", "", "no listener", "published on [::1] only"},
			{"nat: a container's own address from outside", "netns:" + out, "[fd00:233:70::2]:80", "", "blocked", "IPv6 gateway mode is nat"},
			{"internal: from outside", "netns:" + out, "[fd00:233:73::2]:80", "", "blocked", "--internal"},
			{"routed: a published container port from outside", "netns:" + out, "[fd00:233:74::2]:80", "", "reachable", "reached at the container's own address"},
			{"routed: an unpublished port from outside", "netns:" + out, "[fd00:233:74::2]:81", "", "blocked", "IPv6 gateway mode is routed"},
			{"NAT66 out to another host", "netns:" + a1, "[2001:db8::2]:8080", "", "reachable", "the source becomes 2001:db8::1"},
			{"internal to outside", "netns:" + i1, "[2001:db8::2]:8080", "", "no route", ""},
			{"host keyword over IPv6, nothing listening", "netns:" + a2, "host:81", "-6", "no listener", "host → fd00:233:70::1"},
		}
		for _, c := range cases {
			args := []string{c.src, c.dst, "--probe", "--format", "json"}
			if c.flag != "" {
				args = append(args, c.flag)
			}
			stdout, stderr, err := explainIn(h, args...)
			if err != nil {
				t.Errorf("%s: plumb explain %s: %v\n%s", c.name, strings.Join(args, " "), err, stderr)
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
			case !strings.Contains(steps+r.Reason, c.step):
				t.Errorf("%s: no step says %q: the verdict comes from elsewhere\n%s", c.name, c.step, steps)
			case len(r.Drift) > 0:
				t.Errorf("%s: drift %v", c.name, r.Drift)
			}
		}
		for _, i := range []int{7, 12} {
			text, _, _ := explainIn(h, cases[i].src, cases[i].dst)
			t.Logf("plumb explain %s %s\n%s", cases[i].src, cases[i].dst, text)
		}
	})
}
