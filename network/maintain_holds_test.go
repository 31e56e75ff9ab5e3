package network

import (
	"context"
	"testing"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/portmap"
)

// heldKeys are the endpoints whose ports the fake daemon holds, as
// Served reports them.
func (d *fakeDaemon) heldKeys() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]bool{}
	for k := range d.held {
		out[k] = true
	}
	return out
}

// TestStrayHolds: a hold no record with ports accounts for (an attach
// killed between taking its ports and writing its record; a network
// removed since) is a stray, and ReleaseStrayHold lets it go; an
// endpoint's own hold is none, and is never let go.
func TestStrayHolds(t *testing.T) {
	w := attachWorld(t)
	web, _, err := w.m.Attach(context.Background(), "web", attachOpts())
	if err != nil {
		t.Fatal(err)
	}
	reqs := []portmap.Request{{Proto: "tcp", HostPort: 9090, Port: 80}}
	for _, key := range [][2]string{{"n1", "ns-killed"}, {"gone", "ns-old"}} {
		if _, err := w.d.Hold(key[0], key[1], reqs[:1]); err != nil {
			t.Fatal(err)
		}
		reqs[0].HostPort++
	}
	strays, err := w.m.StrayHolds(w.d.heldKeys())
	want := []StrayHold{{"gone", "ns-old"}, {"n1", "ns-killed"}}
	if err != nil || len(strays) != 2 || strays[0] != want[0] || strays[1] != want[1] {
		t.Fatalf("StrayHolds = %v, %v; want %v", strays, err, want)
	}
	for _, s := range append(strays, StrayHold{"n1", web.ID}) {
		if err := w.m.ReleaseStrayHold(s); err != nil {
			t.Errorf("ReleaseStrayHold(%v): %v", s, err)
		}
	}
	held := w.d.heldKeys()
	if len(held) != 1 || !held[control.Key("n1", web.ID)] {
		t.Errorf("held after the releases: %v, want web's alone", held)
	}
	if strays, err := w.m.StrayHolds(held); err != nil || len(strays) != 0 {
		t.Errorf("StrayHolds after the releases = %v, %v", strays, err)
	}
}
