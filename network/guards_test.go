package network

import (
	"net/netip"
	"slices"
	"testing"
)

func TestStrayGuards(t *testing.T) {
	w := newWorld(t)
	n, err := w.m.Create(CreateOptions{Name: "web", Subnet: netip.MustParsePrefix("10.9.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.fw.EnsureLocalnetGuard("pb-left"); err != nil {
		t.Fatal(err)
	}
	stray, err := w.m.StrayGuards()
	if err != nil || !slices.Equal(stray, []string{"pb-left"}) {
		t.Fatalf("StrayGuards = %q, %v; want [pb-left]", stray, err)
	}
	// A network's own bridge is never deleted, even when asked.
	if err := w.m.DeleteStrayGuard(n.Bridge); err != nil {
		t.Fatal(err)
	}
	if err := w.m.DeleteStrayGuard("pb-left"); err != nil {
		t.Fatal(err)
	}
	if got := w.fw.Guarded(); !slices.Equal(got, []string{n.Bridge}) {
		t.Errorf("guarded after DeleteStrayGuard: %q, want [%s]", got, n.Bridge)
	}
	if stray, err := w.m.StrayGuards(); err != nil || len(stray) != 0 {
		t.Errorf("StrayGuards after the repair = %q, %v; want none", stray, err)
	}
}
