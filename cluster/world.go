package cluster

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/plumbnet/plumb/store"
)

// world is the agent's copy of the store, kept by Load and Watch events.
type world struct {
	self      string
	networks  map[string]store.Network
	hosts     map[string]store.Host                // live hosts
	lastHost  map[string]store.Host                // every host seen, as last seen
	goneAt    map[string]time.Time                 // host -> when its lease went
	blocks    map[string]map[netip.Prefix]string   // network -> block -> host
	endpoints map[string]map[string]store.Endpoint // network -> id -> endpoint
}

func newWorld(self string) *world {
	w := &world{self: self, lastHost: map[string]store.Host{}, goneAt: map[string]time.Time{}}
	w.reset(&store.Snapshot{})
	return w
}

// reset replaces everything with snap (Load, or a Resync event). Hosts
// seen before and missing from snap count as gone from now.
func (w *world) reset(snap *store.Snapshot) {
	old := w.hosts
	w.networks = map[string]store.Network{}
	w.hosts = map[string]store.Host{}
	w.blocks = map[string]map[netip.Prefix]string{}
	w.endpoints = map[string]map[string]store.Endpoint{}
	for _, n := range snap.Networks {
		w.networks[n.Name] = n
	}
	for _, h := range snap.Hosts {
		w.putHost(h)
	}
	for name := range old {
		if _, ok := w.hosts[name]; !ok {
			w.goneAt[name] = time.Now()
		}
	}
	for net, bs := range snap.Blocks {
		for b, h := range bs {
			w.putBlock(net, b, h)
		}
	}
	for _, e := range snap.Endpoints {
		w.putEndpoint(e)
	}
}

// apply folds one watch event in.
func (w *world) apply(ev store.Event, now time.Time) {
	switch ev.Kind {
	case store.NetworkPut:
		w.networks[ev.Network.Name] = ev.Network
	case store.NetworkDelete:
		delete(w.networks, ev.Network.Name)
		delete(w.blocks, ev.Network.Name)
		delete(w.endpoints, ev.Network.Name)
	case store.HostPut:
		w.putHost(ev.Host)
	case store.HostDelete:
		delete(w.hosts, ev.Host.Name)
		w.goneAt[ev.Host.Name] = now
	case store.BlockPut:
		w.putBlock(ev.Network.Name, ev.Block, ev.BlockHost)
	case store.BlockDelete:
		delete(w.blocks[ev.Network.Name], ev.Block)
	case store.EndpointPut:
		w.putEndpoint(ev.Endpoint)
	case store.EndpointDelete:
		delete(w.endpoints[ev.Endpoint.Network], ev.Endpoint.ID)
	case store.Resync:
		w.reset(ev.Snapshot)
	}
}

func (w *world) putHost(h store.Host) {
	w.hosts[h.Name] = h
	w.lastHost[h.Name] = h
	delete(w.goneAt, h.Name)
}

func (w *world) putBlock(net string, b netip.Prefix, host string) {
	if w.blocks[net] == nil {
		w.blocks[net] = map[netip.Prefix]string{}
	}
	w.blocks[net][b] = host
}

func (w *world) putEndpoint(e store.Endpoint) {
	if w.endpoints[e.Network] == nil {
		w.endpoints[e.Network] = map[string]store.Endpoint{}
	}
	w.endpoints[e.Network][e.ID] = e
}

func (w *world) networkNames() []string {
	names := make([]string, 0, len(w.networks))
	for n := range w.networks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// myBlocks are the blocks of net this host owns, in address order.
func (w *world) myBlocks(net string) []netip.Prefix {
	var out []netip.Prefix
	for b, h := range w.blocks[net] {
		if h == w.self {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	return out
}

// vtep is the underlay address of host for its endpoints to be
// programmed: a live host's, or a gone one's for grace after it went.
func (w *world) vtep(host string, now time.Time, grace time.Duration) (netip.Addr, bool) {
	if h, ok := w.hosts[host]; ok {
		return h.Underlay, true
	}
	gone, ok := w.goneAt[host]
	if h, seen := w.lastHost[host]; ok && seen && now.Sub(gone) < grace {
		return h.Underlay, true
	}
	return netip.Addr{}, false
}
