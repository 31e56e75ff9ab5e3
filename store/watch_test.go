package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// next receives one event, failing the test after opTimeout.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(opTimeout):
		t.Fatal("no event within the timeout")
	}
	return Event{}
}

// describe renders an event as "kind name" for comparisons.
func describe(ev Event) string {
	switch ev.Kind {
	case NetworkPut, NetworkDelete:
		return fmt.Sprintf("%v %s vni=%d", ev.Kind, ev.Network.Name, ev.Network.VNI)
	case HostPut, HostDelete:
		return fmt.Sprintf("%v %s %s", ev.Kind, ev.Host.Name, ev.Host.Underlay)
	case EndpointPut, EndpointDelete:
		return fmt.Sprintf("%v %s/%s %s", ev.Kind, ev.Endpoint.Network, ev.Endpoint.ID, ev.Endpoint.IP)
	case BlockPut, BlockDelete:
		return fmt.Sprintf("%v %s/%s %s", ev.Kind, ev.Network.Name, ev.Block, ev.BlockHost)
	}
	return ev.Kind.String()
}

// changes makes one change of each kind and returns the events it must
// cause, in order. Deletes carry the record as it was.
func changes(t *testing.T, s *Store) []string {
	t.Helper()
	ctx := ctxT(t)
	nw := mustNet(t, s, "blue", "10.20.0.0/24")
	m, err := s.Join(ctx, host("h1", "192.0.2.1"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimBlock(ctx, "blue", "h1", nw.Subnet, 26); err != nil {
		t.Fatal(err)
	}
	e := ep("blue", "c1", "h1", "10.20.0.2/24", "02:42:0a:14:00:02", "web")
	for _, err := range []error{s.PutEndpoint(ctx, e), s.DeleteEndpoint(ctx, "blue", "c1"), m.Close(),
		s.DeleteNetwork(ctx, "blue", false)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return []string{
		"network put blue vni=4096", "host put h1 192.0.2.1", "block put blue/10.20.0.0/26 h1",
		"endpoint put blue/c1 10.20.0.2/24", "endpoint delete blue/c1 10.20.0.2/24",
		"host delete h1 192.0.2.1", "network delete blue vni=4096", "block delete blue/10.20.0.0/26 h1",
	}
}

// Watch delivers puts and deletes in order, and a second watch from the
// revision of any of them delivers the same from there on.
func TestWatchOrderAndResume(t *testing.T) {
	s := open(t)
	_, rev, err := s.Networks(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(ctx, rev+1)
	want := changes(t, s)
	var revs []int64
	for i, w := range want {
		ev := next(t, ch)
		if got := describe(ev); got != w {
			t.Fatalf("event %d: %q; want %q", i, got, w)
		}
		revs = append(revs, ev.Rev)
	}
	again := s.Watch(ctx, revs[3])
	for i, w := range want[3:] {
		if got := describe(next(t, again)); got != w {
			t.Fatalf("resumed at rev %d, event %d: %q; want %q", revs[3], i, got, w)
		}
	}
	cancel()
	for range ch { // closes once ctx is done
	}
}

// A watch from a compacted revision starts with a Resync carrying the
// whole store, then goes on with the changes after it.
func TestWatchCompacted(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	_, old, _ := s.Networks(ctx)
	mustNet(t, s, "blue", "10.20.0.0/24")
	if err := s.PutEndpoint(ctx, ep("blue", "c1", "h1", "10.20.0.2/24", "02:42:0a:14:00:02")); err != nil {
		t.Fatal(err)
	}
	_, now, _ := s.Networks(ctx)
	if _, err := s.cli.Compact(ctx, now); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(wctx, old+1)
	ev := next(t, ch)
	if ev.Kind != Resync || ev.Snapshot == nil || ev.Snapshot.Rev < now {
		t.Fatalf("first event %v (%+v); want a resync at rev >= %d", ev.Kind, ev.Snapshot, now)
	}
	snap := ev.Snapshot
	if len(snap.Networks) != 1 || snap.Networks[0].Name != "blue" || len(snap.Endpoints) != 1 || snap.Endpoints[0].ID != "c1" {
		t.Fatalf("resync snapshot %+v; want blue with c1", snap)
	}
	if err := s.DeleteEndpoint(ctx, "blue", "c1"); err != nil {
		t.Fatal(err)
	}
	if got := describe(next(t, ch)); got != "endpoint delete blue/c1 10.20.0.2/24" {
		t.Fatalf("after the resync: %q; want the endpoint delete", got)
	}
}

// Load reads everything at one revision.
func TestLoad(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	nw := mustNet(t, s, "blue", "10.20.0.0/24")
	m, err := s.Join(ctx, host("h1", "192.0.2.1"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, err := s.ClaimBlock(ctx, "blue", "h1", nw.Subnet, 26)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutEndpoint(ctx, ep("blue", "c1", "h1", "10.20.0.2/24", "02:42:0a:14:00:02")); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%d nets, hosts %v, blocks %v, %d eps", len(snap.Networks), snap.Hosts[0].Name,
		snap.Blocks["blue"], len(snap.Endpoints))
	want := fmt.Sprintf("1 nets, hosts h1, blocks %v, 1 eps", map[netip.Prefix]string{b: "h1"})
	if got != want || snap.Hosts[0].Lease != m.Lease() || snap.Rev == 0 {
		t.Fatalf("Load: %s (lease %x, rev %d); want %s (lease %x)", got, snap.Hosts[0].Lease, snap.Rev, want, m.Lease())
	}
	if !strings.Contains(Resync.String(), "resync") || Kind(99).String() != "?" {
		t.Fatal("Kind names")
	}
}
