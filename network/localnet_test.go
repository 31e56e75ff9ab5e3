package network

import (
	"context"
	"slices"
	"testing"
)

// The localnet guard around route_localnet (issue 13, defect 3): the fake
// links refuse to turn route_localnet on for a bridge without its guard,
// and the Fake refuses to drop a guard while its bridge has it on (see
// newWorld), so every test of create, attach and rm checks the order.

// TestAttachAfterRebootGuardsFirst: after a reboot, which loses bridges
// and nftables alike but keeps the state dir, attach rebuilds the bridge
// and puts its guard back first.
func TestAttachAfterRebootGuardsFirst(t *testing.T) {
	w := newWorld(t)
	n, err := w.m.Create(createOpts())
	if err != nil {
		t.Fatal(err)
	}
	w.links.DeleteBridge(n.Bridge)
	if err := w.fw.DeleteLocalnetGuard(n.Bridge); err != nil {
		t.Fatal(err)
	}
	w.fw.DeleteNetwork(n.Name)
	w.target("web", 8)
	if _, _, err := w.m.Attach(context.Background(), "web", AttachOptions{Network: n.Name}); err != nil {
		t.Fatalf("attach after a reboot: %v", err)
	}
	if got := w.fw.Guarded(); !slices.Equal(got, []string{n.Bridge}) {
		t.Fatalf("guarded after the repair: %q, want %q", got, n.Bridge)
	}
}

// TestRemoveKeepsGuardWhileBridgeStays: when the bridge cannot be deleted,
// network rm fails and its guard stays, to be removed by the rm that
// deletes the bridge.
func TestRemoveKeepsGuardWhileBridgeStays(t *testing.T) {
	w := newWorld(t)
	n, err := w.m.Create(createOpts())
	if err != nil {
		t.Fatal(err)
	}
	w.links.failDelete = map[string]bool{n.Bridge: true}
	if err := w.m.Remove(context.Background(), n.Name, false); err == nil {
		t.Fatal("rm succeeded though the bridge stayed")
	}
	if got := w.fw.Guarded(); !slices.Equal(got, []string{n.Bridge}) {
		t.Fatalf("guarded after a failed rm: %q, want %q", got, n.Bridge)
	}
	w.links.failDelete = nil
	if err := w.m.Remove(context.Background(), n.Name, false); err != nil {
		t.Fatal(err)
	}
	if !w.fw.Empty() {
		t.Fatalf("firewall after rm: %s", w.fw)
	}
}
