package network

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/script"
)

// dryOf is a dry-run Manager over w's state directory and fakes.
func dryOf(w *world) *Manager {
	return &Manager{StateDir: w.m.StateDir, Links: w.links, Firewall: w.fw, Daemon: w.d, Targets: w.targets, DryRun: &script.Script{}}
}

// tree lists every path under dir, directories included, with the
// content of files.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + "\n")
		if !d.IsDir() {
			c, _ := os.ReadFile(p)
			b.Write(c)
		}
		return nil
	})
	return b.String()
}

// TestDryCreateRollbackRemovesNothing: a dry-run create that fails after
// its state step rolls back without touching the state directory, even
// when the network's directory has appeared meanwhile (a real create
// next to it: a dry run takes no lock).
func TestDryCreateRollbackRemovesNothing(t *testing.T) {
	w := newWorld(t)
	m := dryOf(w)
	dir := filepath.Join(m.StateDir, "networks", "n1")
	m.Fault = func(step string) error {
		if step != "guard" {
			return nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "network.json"), []byte("a real create's\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return errors.New("injected fault")
	}
	if _, err := m.Create(createOpts()); err == nil {
		t.Fatal("Create with a fault at guard succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "network.json")); err != nil || string(b) != "a real create's\n" {
		t.Fatalf("the dry run's rollback removed a real directory: %q, %v", b, err)
	}
}

// TestDryAttachFailsLateChangesNothing: a dry-run attach failing at each
// of its steps leaves the state directory and the fakes as they were; so
// does a dry run of an attach to a network whose ips/ is missing.
func TestDryAttachFailsLateChangesNothing(t *testing.T) {
	w := newWorld(t)
	if _, err := w.m.Create(createOpts()); err != nil {
		t.Fatal(err)
	}
	w.target("web", 0)
	os.RemoveAll(filepath.Join(w.m.StateDir, "networks", "n1", "ips"))
	before, dump := tree(t, w.m.StateDir), w.dump()
	for _, step := range append(StepNames("attach"), "") {
		m := dryOf(w)
		failAt(m, step)
		_, _, err := m.Attach(context.Background(), "web", AttachOptions{Network: "n1"})
		if (err == nil) != (step == "") {
			t.Fatalf("dry attach failing at %q: %v", step, err)
		}
		if after := tree(t, w.m.StateDir); after != before {
			t.Fatalf("dry attach failing at %q changed the state directory:\n%s\nwas\n%s", step, after, before)
		}
		if d := w.dump(); d != dump {
			t.Fatalf("dry attach failing at %q changed the world:\n%s\nwas\n%s", step, d, dump)
		}
	}
}

// TestDryDetachSeesItsRemovals: detaching a target from every network
// it is on, the dry run's last teardown knows the earlier ones removed
// their records, so it puts the target's resolv.conf back, as the real
// detach does.
func TestDryDetachSeesItsRemovals(t *testing.T) {
	w := newWorld(t)
	o2 := createOpts()
	o2.Name = "n2"
	o2.Subnet = mustPrefix(t, "10.51.0.0/24")
	for _, o := range []CreateOptions{createOpts(), o2} {
		if _, err := w.m.Create(o); err != nil {
			t.Fatal(err)
		}
	}
	tg := w.target("web", 0)
	for _, n := range []string{"n1", "n2"} {
		if _, _, err := w.m.Attach(context.Background(), "web", AttachOptions{Network: n}); err != nil {
			t.Fatal(err)
		}
	}
	m := dryOf(w)
	if _, err := m.Detach(context.Background(), "web", ""); err != nil {
		t.Fatal(err)
	}
	if s := m.DryRun.String(); !strings.Contains(s, tg.ResolvFile.Path()) || !strings.Contains(s, "nameserver 192.0.2.53") {
		t.Fatalf("the dry detach does not put resolv.conf back:\n%s", s)
	}
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
