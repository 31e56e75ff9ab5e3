package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/plumbnet/plumb/network"
)

// stateFiles lists every file under the state dir except lock files and
// the last-reserved hint (they carry no state), for before/after comparison.
func stateFiles(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		base := filepath.Base(p)
		if base == "lock" || strings.HasSuffix(base, ".lock") || base == "last_reserved_ip" {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestPrivilegedAttachRollback injects a failure at each step of attach and
// of network create (every step of network.StepNames), and checks that
// each leaves nothing behind: no veth, no address, no record, no hosts
// line, no resolv.conf change, no rule, no bridge, no held port.
func TestPrivilegedAttachRollback(t *testing.T) {
	h := newHost(t)
	hostBefore := h.snapshot()
	for _, step := range network.StepNames("create") {
		out, err := h.command([]string{"PLUMB_INJECT_FAULT=" + step}, "network", "create", "rb", "--subnet", "10.231.5.0/24").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "injected") {
			t.Fatalf("create with a fault at %s: %v %s", step, err, out)
		}
		if after := h.snapshot(); after != hostBefore {
			t.Fatalf("create failing at %s left:\n%s\nwas:\n%s", step, after, hostBefore)
		}
		if files := stateFiles(t, h.state); files != "" {
			t.Fatalf("create failing at %s left state files:\n%s", step, files)
		}
	}

	h.must("network", "create", "rb", "--subnet", "10.231.5.0/24")
	tgt := target(t)
	netBefore, stateBefore, hostsBefore, resolvBefore := h.snapshot(), stateFiles(t, h.state), hostsOf(tgt), resolvOf(tgt)
	linksBefore, _ := h.sh("ip", "netns", "exec", tgt, "ip", "-o", "link")
	for _, step := range append([]string{"resolve"}, network.StepNames("attach")...) {
		out, err := h.command([]string{"PLUMB_INJECT_FAULT=" + step}, "attach", "netns:"+tgt, "--net", "rb", "-p", "8098:80", "--alias", "rb-web").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "injected") {
			t.Fatalf("attach with a fault at %s: %v %s", step, err, out)
		}
		if got := h.snapshot(); got != netBefore {
			t.Errorf("attach failing at %s left on the host:\n%s", step, got)
		}
		if got := stateFiles(t, h.state); got != stateBefore {
			t.Errorf("attach failing at %s left state:\n%s", step, got)
		}
		if got := hostsOf(tgt); got != hostsBefore {
			t.Errorf("attach failing at %s left a hosts line:\n%s", step, got)
		}
		if got := resolvOf(tgt); got != resolvBefore {
			t.Errorf("attach failing at %s left resolv.conf:\n%s", step, got)
		}
		if err := inNS(h.ns, func() error {
			ln, err := net.Listen("tcp4", "0.0.0.0:8098")
			if err == nil {
				ln.Close()
			}
			return err
		}); err != nil {
			t.Errorf("attach failing at %s left host port 8098 held: %v", step, err)
		}
		if got, _ := h.sh("ip", "netns", "exec", tgt, "ip", "-o", "link"); got != linksBefore {
			t.Errorf("attach failing at %s left in the target:\n%s", step, got)
		}
	}
	// And with no fault, the same attach works, and holds the port.
	h.must("attach", "netns:"+tgt, "--net", "rb", "-p", "8098:80", "--alias", "rb-web")
	if err := inNS(h.ns, func() error {
		ln, err := net.Listen("tcp4", "0.0.0.0:8098")
		if err == nil {
			ln.Close()
		}
		return err
	}); err == nil {
		t.Error("host port 8098 not held after a successful attach: the checks above prove nothing")
	}
}

// TestPrivilegedConcurrentAttach runs 100 plumb attach processes at once
// into one /24: every one succeeds, no address is handed out twice, and
// every endpoint is reachable.
func TestPrivilegedConcurrentAttach(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "burst", "--subnet", "10.231.6.0/24")
	const n = 100
	nss := make([]string, n)
	for i := range nss {
		nss[i] = target(t)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range nss {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if out, err := h.run("attach", "netns:"+nss[i], "--net", "burst"); err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
	}
	seen := map[string]string{}
	for _, ns := range nss {
		ip := h.epIP("netns:"+ns, "burst")
		if other, dup := seen[ip]; dup {
			t.Fatalf("%s handed to %s and %s", ip, other, ns)
		}
		seen[ip] = ns
	}
	ents, _ := os.ReadDir(filepath.Join(h.state, "networks", "burst", "ips"))
	if len(ents) != n {
		t.Fatalf("%d address files for %d endpoints", len(ents), n)
	}
	// Every endpoint answers: the first pings all the others.
	for ip, ns := range seen {
		if ns != nss[0] && !ping(nss[0], ip) {
			t.Fatalf("%s (%s) unreachable", ip, ns)
		}
	}
}
