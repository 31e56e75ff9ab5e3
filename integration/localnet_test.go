package integration

import (
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	nft "github.com/google/nftables"

	"github.com/plumbnet/plumb/network"
)

// The guard of route_localnet (issue 13, defect 3). plumb turns
// route_localnet on on its bridges so that a connection to a published port
// on localhost may be DNATed out through the bridge; the same switch lets a
// container that routes 127.0.0.0/8 via its gateway reach the host's
// loopback services, unless something drops that traffic. The drop must
// survive a flush of iptables.

// loopbackService listens on 127.0.0.1:9999 in h's namespace and answers
// every connection with "host loopback secret"; it stops at cleanup.
func loopbackService(t *testing.T, h *host) {
	t.Helper()
	var ln net.Listener
	if err := inNS(h.ns, func() (err error) { ln, err = net.Listen("tcp4", "127.0.0.1:9999"); return }); err != nil {
		t.Fatalf("listening on 127.0.0.1:9999 in the host namespace: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host loopback secret"))
			c.Close()
		}
	}()
}

// routeLoopbackViaGateway makes container ns send 127.0.0.0/8 to gw, as a
// hostile container can: its own loopback address goes, a route via the
// gateway comes, and its eth0 accepts the answers from 127.0.0.1.
func routeLoopbackViaGateway(t *testing.T, ns, gw string) {
	t.Helper()
	for _, args := range [][]string{
		{"ip", "addr", "del", "127.0.0.1/8", "dev", "lo"},
		{"ip", "route", "add", "127.0.0.0/8", "via", gw},
		{"sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
		}
	}
}

// nftRuleset is `nft list ruleset` in h without counters, or fails the
// test: the nftables package is only for reading (lab/provision.sh
// installs it); plumb itself never runs nft.
func nftRuleset(t *testing.T, h *host) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft not found: install Debian's nftables package (lab/provision.sh does)")
	}
	out, err := h.sh("nft", "list", "ruleset")
	if err != nil {
		t.Fatalf("nft list ruleset: %v\n%s", err, out)
	}
	return regexp.MustCompile(`counter packets \d+ bytes \d+`).ReplaceAllString(out, "counter")
}

// TestPrivilegedLocalnetGuardSurvivesFlush: a container routing
// 127.0.0.0/8 via its gateway cannot reach a service on the host's
// 127.0.0.1, with plumb's rules in place and after `iptables -F; -X` of
// filter and nat, while localhost still reaches a published port once the
// rules are back. On each firewall backend (an iptables flush leaves the
// nftables backend's rules alone, but must not open the guard either).
func TestPrivilegedLocalnetGuardSurvivesFlush(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) { localnetFlushScenario(t, newHostOn(t, fw)) })
}

func localnetFlushScenario(t *testing.T, h *host) {
	const gw = "10.231.41.1"
	h.must("network", "create", "lg", "--subnet", "10.231.41.0/24")
	h.assertBackend()
	c := target(t)
	serve(t, c, 80, "c")
	h.must("attach", "netns:"+c, "--net", "lg", "-p", "8081:80")
	loopbackService(t, h)
	routeLoopbackViaGateway(t, c, gw)

	if got := tcpFrom(h.ns, "127.0.0.1:8081"); got != "hello from c" {
		t.Fatalf("localhost to the published port: got %q, want hello from c", got)
	}
	if got := tcpFrom(c, "127.0.0.1:9999"); got != "" {
		t.Fatalf("with the rules in place the container reached the host's 127.0.0.1:9999: %q", got)
	}
	saved := strings.TrimSpace(shOut(t, h, "iptables-save"))
	for _, args := range [][]string{{"-F"}, {"-X"}, {"-t", "nat", "-F"}, {"-t", "nat", "-X"}} {
		mustSh(t, h, "iptables", args...)
	}
	if got := tcpFrom(c, "127.0.0.1:9999"); got != "" {
		t.Errorf("after an iptables flush the container reached the host's 127.0.0.1:9999: %q", got)
	}

	// A firewall reload puts the rules back: localhost reaches the
	// published port through the bridge again, the container still not
	// the host's loopback.
	restore := exec.Command("ip", "netns", "exec", h.ns, "iptables-restore")
	restore.Stdin = strings.NewReader(saved + "\n")
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("iptables-restore: %v\n%s", err, out)
	}
	if got := tcpFrom(h.ns, "127.0.0.1:8081"); got != "hello from c" {
		t.Errorf("localhost to the published port after the rules came back: got %q, want hello from c", got)
	}
	if got := tcpFrom(c, "127.0.0.1:9999"); got != "" {
		t.Errorf("after the rules came back the container reached the host's 127.0.0.1:9999: %q", got)
	}
}

// TestPrivilegedLocalnetGuardLeavesNoTrace: the guard is in nftables while
// a network exists, and `network rm` of the last network leaves `nft list
// ruleset` exactly as it was before the first `network create`, a table
// of someone else's untouched. On each firewall backend: on nftables the
// networks' own table goes with the last network too.
func TestPrivilegedLocalnetGuardLeavesNoTrace(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) { localnetNoTraceScenario(t, newHostOn(t, fw)) })
}

func localnetNoTraceScenario(t *testing.T, h *host) {
	// Someone else's table, written through netlink: nft only reads here.
	theirs := &nft.Table{Name: "theirs", Family: nft.TableFamilyINet}
	if err := inNS(h.ns, func() error {
		c, err := nft.New()
		if err != nil {
			return err
		}
		c.AddTable(theirs)
		c.AddChain(&nft.Chain{Name: "input", Table: theirs, Type: nft.ChainTypeFilter, Hooknum: nft.ChainHookInput, Priority: nft.ChainPriorityFilter})
		return c.Flush()
	}); err != nil {
		t.Fatalf("adding table inet theirs: %v", err)
	}
	before, whole := nftRuleset(t, h), h.snapshot()

	h.must("network", "create", "la", "--subnet", "10.231.42.0/24")
	h.must("network", "create", "lb", "--subnet", "10.231.43.0/24", "--internal")
	c := target(t)
	h.must("attach", "netns:"+c, "--net", "la", "-p", "8082:80")
	h.assertBackend()
	if got, want := guarded(nftRuleset(t, h)), []string{network.BridgeName("la"), network.BridgeName("lb")}; !sameSet(got, want) {
		t.Errorf("guarded bridges in nftables: %q, want %q", got, want)
	}
	h.must("network", "rm", "--force", "la")
	if got, want := guarded(nftRuleset(t, h)), []string{network.BridgeName("lb")}; !sameSet(got, want) {
		t.Errorf("after rm of one network, guarded bridges: %q, want %q", got, want)
	}
	h.must("network", "rm", "lb")
	if after := nftRuleset(t, h); after != before {
		t.Fatalf("nft list ruleset after rm of the last network:\n%s\nwas:\n%s", after, before)
	}
	if after := h.snapshot(); after != whole {
		t.Fatalf("iptables-save, nft list ruleset or links after rm of the last network:\n%s\nwas:\n%s", after, whole)
	}
	h.assertNoPlumbFirewall()
}

// guarded lists the elements of plumb's set of guarded bridges in an `nft
// list ruleset` output: `set localnet_bridges { ... elements = { "a", "b" } }`
// in `table inet plumb`.
func guarded(ruleset string) []string {
	_, table, ok := strings.Cut(ruleset, "table inet plumb {")
	if !ok {
		return nil
	}
	_, set, ok := strings.Cut(table, "set localnet_bridges {")
	if !ok {
		return nil
	}
	set, _, _ = strings.Cut(set, "}")
	_, elems, ok := strings.Cut(set, "elements = {")
	if !ok {
		return nil
	}
	var out []string
	for _, e := range strings.Split(elems, ",") {
		if e = strings.Trim(strings.TrimSpace(e), `"`); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// shOut runs a command in h and returns its output, or fails the test.
func shOut(t *testing.T, h *host, name string, args ...string) string {
	t.Helper()
	out, err := h.sh(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}
