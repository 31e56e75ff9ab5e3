package dns

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Record is one name an endpoint answers to on one network.
type Record struct {
	Network    string
	EndpointID string
	Name       string     // canonical form: lower case, no trailing dot
	IPv4       netip.Addr // always valid when IPv6 is not
	IPv6       netip.Addr // optional
}

// Table is the in-memory record set the Handler answers from. It is safe
// for concurrent use.
//
// Reads (Lookup, Reverse: the query hot path) take a read lock for a few map
// lookups only: what they find are immutable values that outlive the lock,
// so readers never wait on each other and a writer waits for no more than
// those lookups. A write (Set, Remove) is seen whole or not at all, and
// costs the endpoint's own names and addresses, plus the other endpoints
// sharing one of its names; it does not grow with the size of the network.
//
// The zero Table is not usable; call NewTable.
type Table struct {
	mu   sync.RWMutex
	nets map[string]*netTable
}

// netTable is one network's records and the indexes built from them.
type netTable struct {
	ptrDomain string                         // the network name as it ends PTR targets
	endpoints map[string]endpoint            // by endpoint id: the source of truth
	holders   map[string]map[string]struct{} // canonical name -> ids of the endpoints answering to it
	owners    map[netip.Addr]map[string]struct{}
	names     map[string]*answer      // canonical name -> addresses; values immutable
	addrs     map[netip.Addr][]string // address -> PTR targets, sorted; values immutable
}

type endpoint struct {
	names []string // canonical, deduplicated, caller's order (names[0] is the PTR target)
	v4    netip.Addr
	v6    netip.Addr
}

func (ep endpoint) ips() []netip.Addr {
	var ips []netip.Addr
	for _, ip := range []netip.Addr{ep.v4, ep.v6} {
		if ip.IsValid() {
			ips = append(ips, ip)
		}
	}
	return ips
}

// answer is what a name resolves to on one network: at least one of v4 and
// v6 is non-empty, both sorted. Immutable once published.
type answer struct {
	v4 []netip.Addr
	v6 []netip.Addr
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{nets: map[string]*netTable{}}
}

// Set makes names (container name, aliases, short id: whatever the caller
// passes) resolve to v4 and v6 on network for endpointID, replacing every
// record that endpoint had on that network. Names are matched
// case-insensitively and a trailing dot is ignored; empty and repeated names
// are skipped. names[0] (after skipping) is the endpoint's canonical name:
// PTR queries for its addresses answer "names[0].network".
//
// v4 must be an IPv4 address (an IPv4-mapped IPv6 address is unmapped) and
// v6 an IPv6 address; either may be the zero Addr. An invalid or missing
// address is ignored. With no name left or no valid address, Set is Remove:
// an endpoint without an address has nothing to answer.
func (t *Table) Set(network, endpointID string, names []string, v4, v6 netip.Addr) {
	ep := endpoint{v4: v4.Unmap(), v6: v6}
	if !ep.v4.Is4() {
		ep.v4 = netip.Addr{}
	}
	if !ep.v6.Is6() || ep.v6.Is4In6() {
		ep.v6 = netip.Addr{}
	}
	for _, n := range names {
		n = canonicalName(n)
		if n == "" || slices.Contains(ep.names, n) {
			continue
		}
		ep.names = append(ep.names, n)
	}
	if len(ep.names) == 0 || (!ep.v4.IsValid() && !ep.v6.IsValid()) {
		t.Remove(network, endpointID)
		return
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	nt := t.nets[network]
	if nt == nil {
		nt = &netTable{
			ptrDomain: canonicalName(network),
			endpoints: map[string]endpoint{},
			holders:   map[string]map[string]struct{}{},
			owners:    map[netip.Addr]map[string]struct{}{},
			names:     map[string]*answer{},
			addrs:     map[netip.Addr][]string{},
		}
		t.nets[network] = nt
	}
	old, had := nt.endpoints[endpointID]
	if had {
		nt.unindex(endpointID, old)
	}
	nt.endpoints[endpointID] = ep
	for _, n := range ep.names {
		addTo(nt.holders, n, endpointID)
	}
	for _, ip := range ep.ips() {
		addTo(nt.owners, ip, endpointID)
	}
	nt.refresh(slices.Concat(old.names, ep.names), slices.Concat(old.ips(), ep.ips()))
}

// Remove deletes every record endpointID has on network. Removing what is
// not there is not an error.
func (t *Table) Remove(network, endpointID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	nt := t.nets[network]
	if nt == nil {
		return
	}
	old, had := nt.endpoints[endpointID]
	if !had {
		return
	}
	nt.unindex(endpointID, old)
	delete(nt.endpoints, endpointID)
	if len(nt.endpoints) == 0 {
		delete(t.nets, network)
		return
	}
	nt.refresh(old.names, old.ips())
}

func (nt *netTable) unindex(id string, ep endpoint) {
	for _, n := range ep.names {
		removeFrom(nt.holders, n, id)
	}
	for _, ip := range ep.ips() {
		removeFrom(nt.owners, ip, id)
	}
}

// refresh rebuilds the answers of names and the PTR targets of ips from the
// endpoints now holding them, replacing the published values.
func (nt *netTable) refresh(names []string, ips []netip.Addr) {
	for _, n := range names {
		ids := nt.holders[n]
		if len(ids) == 0 {
			delete(nt.names, n)
			continue
		}
		a := &answer{}
		for id := range ids {
			ep := nt.endpoints[id]
			if ep.v4.IsValid() {
				a.v4 = append(a.v4, ep.v4)
			}
			if ep.v6.IsValid() {
				a.v6 = append(a.v6, ep.v6)
			}
		}
		a.v4, a.v6 = sortedUnique(a.v4), sortedUnique(a.v6)
		nt.names[n] = a
	}
	for _, ip := range ips {
		ids := nt.owners[ip]
		if len(ids) == 0 {
			delete(nt.addrs, ip)
			continue
		}
		targets := make([]string, 0, len(ids))
		for id := range ids {
			targets = append(targets, nt.endpoints[id].names[0]+"."+nt.ptrDomain)
		}
		slices.Sort(targets)
		nt.addrs[ip] = slices.Clip(slices.Compact(targets))
	}
}

func addTo[K comparable](m map[K]map[string]struct{}, k K, id string) {
	ids := m[k]
	if ids == nil {
		ids = map[string]struct{}{}
		m[k] = ids
	}
	ids[id] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[string]struct{}, k K, id string) {
	if ids := m[k]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(m, k)
		}
	}
}

func sortedUnique(ips []netip.Addr) []netip.Addr {
	slices.SortFunc(ips, netip.Addr.Compare)
	return slices.Clip(slices.Compact(ips))
}

// Lookup returns the addresses name has in the first of networks (in the
// order given: the caller's priority) that knows the name; a name on two
// networks answers with one network's addresses, as Docker does. When no
// network knows the name as given, "prefix.network" is tried for each
// network in networks, so "web.mynet" finds "web" on mynet (the longest
// prefix first, again as Docker does).
//
// Matching is case-insensitive and ignores a trailing dot. Both results are
// empty when the name is unknown; otherwise at least one is not. The slices
// are sorted and belong to the caller.
func (t *Table) Lookup(networks []string, name string) (v4, v6 []netip.Addr) {
	a := t.find(networks, name)
	if a == nil {
		return nil, nil
	}
	return slices.Clone(a.v4), slices.Clone(a.v6)
}

// find is Lookup without the copies, for the handler's hot path. The
// answer is shared and must not be modified.
func (t *Table) find(networks []string, name string) *answer {
	key := canonicalName(name)
	if key == "" {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, n := range networks {
		if nt := t.nets[n]; nt != nil {
			if a := nt.names[key]; a != nil {
				return a
			}
		}
	}
	// "a.b.c.d": try "a.b.c" in network "d", then "a.b" in "c.d", ...
	for i := len(key) - 1; i > 0; i-- {
		if key[i] != '.' {
			continue
		}
		prefix, suffix := key[:i], key[i+1:]
		for _, n := range networks {
			if !strings.EqualFold(n, suffix) {
				continue
			}
			if nt := t.nets[n]; nt != nil {
				if a := nt.names[prefix]; a != nil {
					return a
				}
			}
		}
	}
	return nil
}

// Reverse returns the PTR targets of ip on networks: "name.network" for the
// canonical name of every endpoint holding ip, as Docker answers, in network
// order and without repeats; nil when there are none. An IPv4-mapped IPv6
// address is unmapped first. The slice belongs to the caller.
func (t *Table) Reverse(networks []string, ip netip.Addr) []string {
	ip = ip.Unmap()
	var out []string
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, n := range networks {
		nt := t.nets[n]
		if nt == nil {
			continue
		}
		for _, name := range nt.addrs[ip] {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// Records returns every record on network, one per (endpoint, name), sorted
// by name and then endpoint id; nil for a network with no records. The
// slice belongs to the caller.
func (t *Table) Records(network string) []Record {
	t.mu.RLock()
	nt := t.nets[network]
	var out []Record
	if nt != nil {
		for id, ep := range nt.endpoints {
			for _, n := range ep.names {
				out = append(out, Record{Network: network, EndpointID: id, Name: n, IPv4: ep.v4, IPv6: ep.v6})
			}
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.EndpointID, b.EndpointID))
	})
	return out
}

// Networks returns the networks that have at least one record, sorted.
func (t *Table) Networks() []string {
	t.mu.RLock()
	out := make([]string, 0, len(t.nets))
	for n := range t.nets {
		out = append(out, n)
	}
	t.mu.RUnlock()
	slices.Sort(out)
	return out
}
