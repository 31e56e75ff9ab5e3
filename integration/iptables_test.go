package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivilegedAttachMakesNoIptablesCall runs attach and detach with every
// iptables binary on PATH replaced by a wrapper that logs its calls: the
// per-network rules are installed at network create, so an attach without
// ports must not call iptables at all.
func TestPrivilegedAttachMakesNoIptablesCall(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "quiet", "--subnet", "10.231.8.0/24")

	wrap := t.TempDir()
	logf := filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore", "iptables-nft", "iptables-legacy"} {
		real, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		script := "#!/bin/sh\necho \"" + name + " $*\" >> " + logf + "\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(wrap, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + wrap + ":" + os.Getenv("PATH")}
	// Prove the wrapper is in the way: network create does call iptables.
	if out, err := h.command(env, "network", "create", "probe", "--subnet", "10.231.10.0/24").CombinedOutput(); err != nil {
		t.Fatalf("create through the wrapper: %v %s", err, out)
	}
	if b, _ := os.ReadFile(logf); !strings.Contains(string(b), "iptables") {
		t.Fatalf("the wrapper saw no call from network create: %q", b)
	}
	os.Remove(logf)

	tgt := target(t)
	for _, args := range [][]string{{"attach", "netns:" + tgt, "--net", "quiet"}, {"detach", "netns:" + tgt}} {
		if out, err := h.command(env, args...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	if b, err := os.ReadFile(logf); err == nil {
		t.Fatalf("attach/detach called iptables:\n%s", b)
	}
}
