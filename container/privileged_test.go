package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// newRoot makes a small root file system with an etc directory.
func newRoot(t *testing.T) string {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/hosts"), "127.0.0.1\tlocalhost\n")
	writeFile(t, filepath.Join(root, "etc/resolv.conf"), "nameserver 10.0.0.53\nsearch corp.example\n")
	writeFile(t, filepath.Join(root, "etc/hostname"), "box\n")
	return root
}

func TestPrivilegedResolvePID(t *testing.T) {
	testutil.RequirePrivileged(t)
	root := newRoot(t)
	pid, stop := startChild(t, root, syscall.CLONE_NEWNS|syscall.CLONE_NEWNET)
	spec := fmt.Sprintf("pid:%d", pid)
	tg, err := Resolve(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	own, err := Resolve(context.Background(), "/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if tg.Kind != KindPID || tg.PID != pid || tg.NetNSPath != fmt.Sprintf("/proc/%d/ns/net", pid) ||
		tg.Hostname != "box" || tg.ContainerName != "" || tg.ContainerID != "" || tg.Key == own.Key {
		t.Errorf("Resolve(%s) = %+v", spec, tg)
	}
	if byPath, err := Resolve(context.Background(), tg.NetNSPath); err != nil || byPath.Key != tg.Key || byPath.Kind != KindPID {
		t.Errorf("Resolve(%s) = %+v, %v; want the same target", tg.NetNSPath, byPath, err)
	}
	if tg.HostsFile == nil || tg.ResolvFile == nil {
		t.Fatal("a process with its own root got no files")
	}
	if p := tg.HostsFile.Path(); p != fmt.Sprintf("/proc/%d/root/etc/hosts", pid) {
		t.Errorf("hosts path %s", p)
	}

	entry := []HostsEntry{{IP: netip.MustParseAddr("172.30.0.2"), Names: []string{"box"}}}
	must(t, tg.HostsFile.Update(func(old []byte) ([]byte, error) {
		return SetHostsEntries(old, "net/ep", entry), nil
	}))
	if got := readFile(t, filepath.Join(root, "etc/hosts")); got != "127.0.0.1\tlocalhost\n172.30.0.2\tbox\t# plumb:net/ep\n" {
		t.Errorf("hosts = %q", got)
	}
	must(t, tg.ResolvFile.Update(func(old []byte) ([]byte, error) {
		host, err := ParseResolvConf(bytes.NewReader(old))
		return ContainerResolvConf(host).Bytes(), err
	}))
	if got := readFile(t, filepath.Join(root, "etc/resolv.conf")); got != "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0\n" {
		t.Errorf("resolv.conf = %q", got)
	}

	// Once the process is gone, the file is unreachable, not redirected.
	stop()
	if err := tg.HostsFile.Update(appendLine("late\n")); err == nil {
		t.Error("update after the process exited succeeded")
	}
	if _, err := Resolve(context.Background(), spec); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve of an exited process: %v", err)
	}
}

func TestPrivilegedPIDRootEscapes(t *testing.T) {
	testutil.RequirePrivileged(t)
	cases := escapeCases()
	// With a real procfs inside the root, /proc/self/root is a magic link
	// back to plumb's own root: RESOLVE_NO_MAGICLINKS must refuse it.
	cases = append(cases, escapeCase{name: "magic link with procfs mounted", build: func(t *testing.T, root, outside string) {
		must(t, os.Symlink("/proc/self/root"+outside, filepath.Join(root, "etc/hosts")))
	}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			must(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
			outside := filepath.Join(t.TempDir(), "sentinel")
			writeFile(t, outside, "outside\n")
			c.build(t, root, outside)
			arg := root
			if strings.HasPrefix(c.name, "magic") {
				arg = "proc:" + root
			}
			pid, _ := startChild(t, arg, syscall.CLONE_NEWNS|syscall.CLONE_NEWNET)
			tg, err := Resolve(context.Background(), fmt.Sprintf("pid:%d", pid))
			if err != nil {
				t.Fatal(err)
			}
			if tg.HostsFile == nil {
				t.Fatal("no hosts file")
			}
			checkEscape(t, c, root, outside, tg.HostsFile)
		})
	}
}

// Processes that see plumb's own /etc must yield no files.
func TestPrivilegedHostRootNoFiles(t *testing.T) {
	testutil.RequirePrivileged(t)
	sleep := exec.Command("sleep", "60")
	must(t, sleep.Start())
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })

	newMountNS, _ := startChild(t, "", syscall.CLONE_NEWNS|syscall.CLONE_NEWNET) // own mount ns, host root
	chrootSameNS, _ := startChild(t, newRoot(t), syscall.CLONE_NEWNET)           // own root, host mount ns

	for name, pid := range map[string]int{"plain process": sleep.Process.Pid, "new mount ns": newMountNS, "chroot in host mount ns": chrootSameNS} {
		tg, err := Resolve(context.Background(), fmt.Sprintf("pid:%d", pid))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tg.HostsFile != nil || tg.ResolvFile != nil || tg.Hostname != "" {
			t.Errorf("%s: got files %v %v hostname %q; want none", name, tg.HostsFile, tg.ResolvFile, tg.Hostname)
		}
	}
}

// Whatever the path, the host's own files are never written.
func TestPrivilegedNeverHostFiles(t *testing.T) {
	testutil.RequirePrivileged(t)
	before, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Skip("no /etc/hosts on this host")
	}
	// Should the guard ever break, put the host's file back whatever happens.
	t.Cleanup(func() {
		if now, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(now, before) {
			_ = os.WriteFile("/etc/hosts", before, 0o644)
		}
	})
	for _, f := range []File{
		&hostFile{path: "/etc/hosts"},
		&rootFile{root: "/proc/self/root", rel: "etc/hosts"},
		&rootFile{root: "/", rel: "etc/../etc/hosts"},
	} {
		if err := f.Update(appendLine("10.6.6.6 evil\n")); err == nil {
			t.Errorf("%s: update succeeded", f.Path())
		}
	}
	if after, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(before, after) {
		t.Fatal("/etc/hosts changed")
	}
}

func TestPrivilegedResolveNetNS(t *testing.T) {
	name := testutil.NewNetNS(t)
	var first *Target
	for _, s := range []string{"netns:" + name, "/var/run/netns/" + name, "/run/netns/" + name} {
		tg, err := Resolve(context.Background(), s)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", s, err)
		}
		if tg.Kind != KindNetNS || tg.NetNSPath != "/var/run/netns/"+name || tg.ContainerName != name ||
			tg.Hostname != name || tg.PID != 0 || tg.HostsFile == nil || tg.ResolvFile == nil {
			t.Errorf("Resolve(%q) = %+v", s, tg)
		}
		if first == nil {
			first = tg
		} else if tg.Key != first.Key {
			t.Errorf("Resolve(%q): key %s, want %s", s, tg.Key, first.Key)
		}
	}
	// A process inside that netns has the same key. `ip netns exec` gives it
	// a new mount namespace but the host's root: no files.
	sleep := exec.Command("ip", "netns", "exec", name, "sleep", "60")
	must(t, sleep.Start())
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	var tg *Target
	for i := 0; i < 100; i++ { // until ip has switched netns and exec'd sleep
		var err error
		if tg, err = Resolve(context.Background(), fmt.Sprintf("pid:%d", sleep.Process.Pid)); err == nil && tg.Key == first.Key {
			break
		}
		sleepBriefly()
	}
	if tg == nil || tg.Key != first.Key {
		t.Errorf("pid in netns %s: %+v, want key %s", name, tg, first.Key)
	} else if tg.HostsFile != nil {
		t.Error("a process with the host's root got files")
	}
}

// The netns files really are what `ip netns exec` shows, and Remove leaves
// nothing behind.
func TestPrivilegedNetnsEtcConvention(t *testing.T) {
	name := testutil.NewNetNS(t)
	if NetnsEtcDir != "/etc/netns" {
		t.Fatalf("NetnsEtcDir = %s", NetnsEtcDir)
	}
	if _, err := os.Stat(NetnsEtcDir); errors.Is(err, os.ErrNotExist) {
		t.Cleanup(func() { _ = os.Remove(NetnsEtcDir) }) // only if empty: ours
	}
	dir := filepath.Join(NetnsEtcDir, name)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	tg, err := Resolve(context.Background(), "netns:"+name)
	if err != nil {
		t.Fatal(err)
	}
	entry := []HostsEntry{{IP: netip.MustParseAddr("172.30.0.7"), Names: []string{"web"}}}
	must(t, tg.HostsFile.Update(func(old []byte) ([]byte, error) {
		return SetHostsEntries(old, "net/ep", entry), nil
	}))
	must(t, tg.ResolvFile.Update(func(old []byte) ([]byte, error) {
		host, err := ParseResolvConf(bytes.NewReader(old))
		return ContainerResolvConf(host).Bytes(), err
	}))
	if !tg.HostsFile.Created() || !tg.ResolvFile.Created() {
		t.Error("Created false")
	}
	out, err := testutil.InNS(name, "cat", "/etc/hosts")
	if err != nil || !strings.Contains(out, "172.30.0.7\tweb\t# plumb:net/ep\n") {
		t.Errorf("ip netns exec cat /etc/hosts: %v\n%s", err, out)
	}
	if hostHosts, err := os.ReadFile("/etc/hosts"); err == nil && !strings.HasPrefix(out, string(hostHosts)) {
		t.Errorf("the netns hosts file does not start with the host's lines:\n%s", out)
	}
	out, err = testutil.InNS(name, "cat", "/etc/resolv.conf")
	if err != nil || !strings.HasPrefix(out, "nameserver 127.0.0.11\n") {
		t.Errorf("ip netns exec cat /etc/resolv.conf: %v\n%s", err, out)
	}

	must(t, tg.HostsFile.Remove())
	must(t, tg.ResolvFile.Remove())
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind: %v", dir, err)
	}
}
