package cluster

import (
	"net/netip"
	"testing"
	"time"

	"github.com/plumbnet/plumb/store"
)

// The world follows the store's events: blocks by owner in address order,
// a gone host's VTEP kept for the grace period only, a network delete
// taking its blocks and endpoints, a Resync replacing everything.
func TestWorld(t *testing.T) {
	w := newWorld("h1")
	t0 := time.Unix(1000, 0)
	p := netip.MustParsePrefix
	w.reset(&store.Snapshot{
		Networks: []store.Network{{Name: "ov"}},
		Hosts:    []store.Host{{Name: "h2", Underlay: netip.MustParseAddr("10.98.0.2")}},
		Blocks:   map[string]map[netip.Prefix]string{"ov": {p("10.0.0.64/26"): "h1", p("10.0.0.0/26"): "h2"}},
	})
	w.apply(store.Event{Kind: store.BlockPut, Network: store.Network{Name: "ov"}, Block: p("10.0.0.128/26"), BlockHost: "h1"}, t0)
	if got := w.myBlocks("ov"); len(got) != 2 || got[0] != p("10.0.0.64/26") || got[1] != p("10.0.0.128/26") {
		t.Fatalf("myBlocks = %v", got)
	}
	if v, ok := w.vtep("h2", t0, time.Second); !ok || v.String() != "10.98.0.2" {
		t.Fatalf("live h2: %v %v", v, ok)
	}
	w.apply(store.Event{Kind: store.HostDelete, Host: store.Host{Name: "h2"}}, t0)
	if _, ok := w.vtep("h2", t0.Add(500*time.Millisecond), time.Second); !ok {
		t.Fatal("h2 dropped within its grace period")
	}
	if _, ok := w.vtep("h2", t0.Add(2*time.Second), time.Second); ok {
		t.Fatal("h2 kept after its grace period")
	}
	w.apply(store.Event{Kind: store.EndpointPut, Endpoint: store.Endpoint{Network: "ov", ID: "h2.x"}}, t0)
	w.apply(store.Event{Kind: store.NetworkDelete, Network: store.Network{Name: "ov"}}, t0)
	if len(w.networkNames())+len(w.myBlocks("ov"))+len(w.endpoints["ov"]) != 0 {
		t.Fatal("network delete left state behind")
	}
	w.apply(store.Event{Kind: store.Resync, Snapshot: &store.Snapshot{Networks: []store.Network{{Name: "b"}}}}, t0)
	if n := w.networkNames(); len(n) != 1 || n[0] != "b" {
		t.Fatalf("after resync: %v", n)
	}
}
