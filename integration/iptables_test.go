package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivilegedAttachMakesNoIptablesCall runs attach and detach with every
// iptables binary (and nft) on PATH replaced by a wrapper that logs its
// calls, on each firewall backend.
//   - iptables: the per-network rules are installed at network create, so
//     an attach without ports must not call iptables at all;
//   - nftables: plumb speaks netlink, so neither attach -p nor detach calls
//     iptables or nft, and no command of the whole life of a network
//     (create, attach -p, detach, rm) calls nft: plumb must not need it.
func TestPrivilegedAttachMakesNoIptablesCall(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) {
		h := newHostOn(t, fw)
		env, calls := wrapFirewallTools(t)
		run := func(args ...string) {
			t.Helper()
			if out, err := h.command(env, args...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v %s", args, err, out)
			}
		}
		// The first create (and the daemon it may start) without the
		// wrappers: a daemon's own checks are not attach's calls.
		h.must("network", "create", "quiet", "--subnet", "10.231.8.0/24")
		h.assertBackend()
		run("network", "create", "probe", "--subnet", "10.231.10.0/24")
		if fw == "iptables" && !strings.Contains(calls(), "iptables") {
			t.Fatalf("the wrapper saw no call from network create: %q", calls())
		}
		if fw == "nftables" && strings.Contains(calls(), "nft ") {
			t.Fatalf("network create called nft:\n%s", calls())
		}
		tgt := target(t)
		attach := []string{"attach", "netns:" + tgt, "--net", "quiet"}
		if fw == "nftables" {
			attach = append(attach, "-p", "18088:80", "-p", "127.0.0.1:18089:80/udp")
		}
		calls(true)
		run(attach...)
		run("detach", "netns:"+tgt)
		if c := calls(); c != "" {
			t.Fatalf("%s and detach called iptables or nft:\n%s", strings.Join(attach, " "), c)
		}
		run("network", "rm", "probe")
		if c := calls(); strings.Contains(c, "nft ") {
			t.Fatalf("network rm called nft:\n%s", c)
		}
	})
}

// wrapFirewallTools puts, in front of PATH, wrappers of every iptables
// binary and of nft that log each call, and proves they are in the way.
// It returns the environment that uses them and a function returning the
// calls logged so far ("name args" a line), which clears the log when
// given true.
func wrapFirewallTools(t *testing.T) ([]string, func(clear ...bool) string) {
	t.Helper()
	wrap := t.TempDir()
	logf := filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore", "iptables-nft", "iptables-legacy", "iptables-legacy-save", "nft"} {
		real, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		script := "#!/bin/sh\necho \"" + name + " $*\" >> " + logf + "\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(wrap, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := wrap + ":" + os.Getenv("PATH")
	calls := func(clear ...bool) string {
		b, _ := os.ReadFile(logf)
		if len(clear) > 0 && clear[0] {
			os.Remove(logf)
		}
		return string(b)
	}
	probe := exec.Command("sh", "-c", "nft --version")
	probe.Env = append(os.Environ(), "PATH="+path)
	if out, err := probe.CombinedOutput(); err != nil || !strings.Contains(calls(true), "nft --version") {
		t.Fatalf("the wrappers are not in the way: %v %s", err, out)
	}
	return []string{"PATH=" + path}, calls
}
