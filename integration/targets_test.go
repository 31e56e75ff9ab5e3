package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedPidAndPathTargets attaches a plain process by pid:N and a
// namespace by its /var/run/netns path, and checks that pid:N and
// /proc/N/ns/net name the same endpoint.
func TestPrivilegedPidAndPathTargets(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "tg", "--subnet", "10.231.7.0/24")

	// A process in its own network namespace, sharing the host's mount
	// namespace: plumb must wire it but never touch the host's /etc/hosts.
	cmd := exec.Command("unshare", "--net", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	// Wait until unshare has exec'd into its new namespace.
	for i := 0; i < 100; i++ {
		if a, b := nsOf(fmt.Sprint(pid)), nsOf("self"); a != "" && a != b {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	spec := fmt.Sprintf("pid:%d", pid)
	h.must("attach", spec, "--net", "tg")
	if out := h.must("attach", fmt.Sprintf("/proc/%d/ns/net", pid), "--net", "tg"); !strings.Contains(out, "already") {
		t.Fatalf("/proc/N/ns/net is not the same target as pid:N: %s", out)
	}
	other := target(t)
	h.must("attach", "/var/run/netns/"+other, "--net", "tg")
	ip := h.epIP(spec, "tg")
	if !ping(other, ip) {
		t.Fatalf("namespace cannot reach the process at %s", ip)
	}
	h.must("detach", spec)
	h.must("detach", "/var/run/netns/"+other)
	if out := h.must("ps", "--net", "tg"); strings.Count(out, "\n") != 1 {
		t.Fatalf("endpoints left:\n%s", out)
	}
}

func nsOf(pid string) string {
	out, _ := exec.Command("readlink", "/proc/"+pid+"/ns/net").Output()
	return strings.TrimSpace(string(out))
}

// TestPrivilegedStaleAndDamagedRecords: a damaged endpoint record neither
// blocks a new attach nor leaks its address or veth, and a netns that was
// deleted and made again under the same name can still be detached.
func TestPrivilegedStaleAndDamagedRecords(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "st", "--subnet", "10.231.23.0/24")
	x := target(t)
	h.must("attach", "netns:"+x, "--net", "st")
	recs, _ := filepath.Glob(filepath.Join(h.state, "networks", "st", "endpoints", "*.json"))
	if len(recs) != 1 {
		t.Fatalf("records: %v", recs)
	}
	if err := os.WriteFile(recs[0], []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.must("attach", "netns:"+x, "--net", "st")
	ips, _ := os.ReadDir(filepath.Join(h.state, "networks", "st", "ips"))
	if len(ips) != 1 {
		t.Fatalf("%d address files after re-attaching over a damaged record", len(ips))
	}
	if !ping(x, "10.231.23.1") {
		t.Fatal("re-attached endpoint cannot reach its gateway")
	}

	y := target(t)
	h.must("attach", "netns:"+y, "--net", "st")
	testutil.Run(t, "ip", "netns", "del", y)
	testutil.Run(t, "ip", "netns", "add", y)
	if out := h.must("detach", "netns:"+y); !strings.Contains(out, "detached") {
		t.Fatalf("detach of a re-created netns: %q", out)
	}
	ips, _ = os.ReadDir(filepath.Join(h.state, "networks", "st", "ips"))
	if len(ips) != 1 {
		t.Fatalf("%d address files after detaching the stale endpoint", len(ips))
	}
}
