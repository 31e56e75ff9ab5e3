package ipam

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// An attach killed between creating its address file and writing its owner
// left the file empty (with the old one-step-at-a-time Reserve), and a
// damaged file may be anything that is not an owner. Under the lock no
// writer can still be writing either: the very next allocation takes them
// over, however fresh, instead of skipping them until a full scan 30 s on.
func TestDamagedReservationReusedAtOnce(t *testing.T) {
	a, dir := newAlloc(t, mustRange(t, "10.1.0.0/24", "", "10.1.0.1"))
	first, err := a.Allocate("ep0", netip.Addr{})
	if err != nil || first != netip.MustParseAddr("10.1.0.2") {
		t.Fatalf("first allocation: %s, %v", first, err)
	}
	damage := map[string]func(p string) error{
		"empty":     func(p string) error { return os.WriteFile(p, nil, 0o644) },
		"garbage":   func(p string) error { return os.WriteFile(p, []byte("\x00\xff/"), 0o644) },
		"directory": func(p string) error { return os.Mkdir(p, 0o755) },
	}
	for _, kind := range []string{"empty", "garbage", "directory"} {
		next := a.Range.next(a.Store.LastReserved())
		if err := damage[kind](filepath.Join(dir, "ips", next.String())); err != nil {
			t.Fatal(err)
		}
		got, err := a.Allocate("ep-"+kind, netip.Addr{})
		if err != nil {
			t.Fatalf("allocation after a fresh %s reservation of %s: %v", kind, next, err)
		}
		if got != next {
			t.Errorf("fresh %s reservation of %s: allocation gave %s, want %s at once", kind, next, got, next)
		}
		if owner, ok, err := a.Store.Owner(got); err != nil || !ok || owner != "ep-"+kind {
			t.Errorf("owner of %s = %q, %v, %v; want ep-%s", got, owner, ok, err, kind)
		}
	}
}

// Owners is what a garbage collection compares with the endpoint records;
// ReleaseIf then frees, under the lock, the owners it finds orphaned, and
// the damaged reservations it is offered as owner "".
func TestOwnersAndReleaseIf(t *testing.T) {
	a, dir := newAlloc(t, mustRange(t, "10.1.0.0/24", "", "10.1.0.1"))
	kept, _ := a.Allocate("recorded", netip.Addr{})
	orphan, _ := a.Allocate("killed-before-record", netip.Addr{})
	damaged := netip.MustParseAddr("10.1.0.200")
	if err := os.WriteFile(filepath.Join(dir, "ips", damaged.String()), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	owners, err := a.Owners()
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]string{kept: "recorded", orphan: "killed-before-record", damaged: ""}
	if len(owners) != len(want) {
		t.Errorf("Owners() = %v, want %v", owners, want)
	}
	for ip, id := range want {
		if got, ok := owners[ip]; !ok || got != id {
			t.Errorf("Owners()[%s] = %q, %v; want %q", ip, got, ok, id)
		}
	}
	recorded := map[string]bool{"recorded": true}
	if err := a.ReleaseIf(func(owner string) bool { return !recorded[owner] }); err != nil {
		t.Fatal(err)
	}
	owners, err = a.Owners()
	if err != nil || len(owners) != 1 || owners[kept] != "recorded" {
		t.Errorf("after ReleaseIf: Owners() = %v, %v; want only %s", owners, err, kept)
	}
}

// No one ever sees an address file without its owner: the file appears
// with the owner in it, or not at all, so a writer killed in between
// leaves nothing to clean.
func TestReserveWritesOwnerInOneStep(t *testing.T) {
	s, err := NewDiskStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("10.1.0.9")
	seen := false
	testHookReserve = func(got netip.Addr) {
		seen = true
		if _, ok, err := s.Owner(got); ok || err != nil {
			t.Errorf("while %s is being reserved its file is visible (err %v)", got, err)
		}
		if ents, _ := os.ReadDir(filepath.Join(s.Dir, "ips")); len(ents) != 0 {
			t.Errorf("while %s is being reserved ips/ holds %d entries", got, len(ents))
		}
	}
	t.Cleanup(func() { testHookReserve = nil })
	if ok, err := s.Reserve("ep", ip); !ok || err != nil {
		t.Fatalf("Reserve: %v, %v", ok, err)
	}
	if !seen {
		t.Fatal("the hook did not run")
	}
	testHookReserve = nil
	if owner, ok, err := s.Owner(ip); owner != "ep" || !ok || err != nil {
		t.Errorf("owner = %q, %v, %v", owner, ok, err)
	}
	if ok, err := s.Reserve("other", ip); ok || err != nil {
		t.Errorf("second Reserve: %v, %v; want false, nil", ok, err)
	}
}
