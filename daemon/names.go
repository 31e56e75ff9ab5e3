package daemon

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containernetworking/plugins/pkg/ns"
	mdns "github.com/miekg/dns"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/dns"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/veth"
)

// nameService is Docker's embedded DNS: a listener at 127.0.0.11:53 (UDP
// and TCP) inside every attached namespace (IPv4 only, as Docker's, even
// on an IPv6-only network: a namespace's loopback always has it) and one
// on each of a network's gateway addresses, Gateway and Gateway6,
// answering the names of the client's networks from one table (A from
// Endpoint.IP, AAAA from Endpoint.IP6) and forwarding the rest from the
// host's namespace, over IPv4 or IPv6 as the upstream is. It owns its
// listeners' lifecycle, as a coredns plugin's setup does.
type nameService struct {
	ctx   context.Context
	table *dns.Table
	fwd   dns.Forwarder

	mu        sync.Mutex
	sandboxes map[uint64]*sandbox // by Endpoint.NamespaceKey
	where     map[string]uint64   // endpoint key -> its sandbox
	gateways  map[string]*gateway // by network name
	nets      map[string]*network.Network
	// gatewayFailures is the last failure logged for a network whose
	// gateway listener cannot be made (serveGateway), by network name.
	gatewayFailures map[string]string

	gatewayPort uint16               // 53; tests use another
	logf        func(string, ...any) // log.Printf; tests capture it
}

// sandbox is one attached namespace and its 127.0.0.11 listener. Its scope
// is the networks of its endpoints, first attached first.
type sandbox struct {
	id     uint64                       // Endpoint.NamespaceKey
	ns     *veth.NS                     // the namespace, with a netlink socket inside, for route checks
	eps    map[string]*network.Endpoint // by network
	scope  atomic.Pointer[dns.Scope]
	cancel context.CancelFunc
	done   chan struct{}
}

func newNameService(ctx context.Context, fwd dns.Forwarder) *nameService {
	return &nameService{ctx: ctx, table: dns.NewTable(), fwd: fwd,
		sandboxes: map[uint64]*sandbox{}, where: map[string]uint64{},
		gateways: map[string]*gateway{}, nets: map[string]*network.Network{},
		gatewayFailures: map[string]string{}, gatewayPort: 53, logf: log.Printf}
}

// up serves ep of network n: its names in the table (A records from ep.IP,
// AAAA from ep.IP6, either of which may be zero), a listener in its
// namespace (none for a CNI attachment: the runtime's resolv.conf names
// the gateway), and n's gateway listener. It is idempotent. A gateway
// listener that cannot be made is logged, not returned: the names resolve.
func (s *nameService) up(n *network.Network, ep *network.Endpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nets[n.Name] = n
	if ep.Kind != network.KindCNI {
		id := ep.NamespaceKey()
		sb := s.sandboxes[id]
		if sb == nil {
			var err error
			if sb, err = s.openSandbox(ep); err != nil {
				return err
			}
			s.sandboxes[id] = sb
		}
		sb.eps[ep.Network] = ep
		s.where[control.Key(ep.Network, ep.ID)] = id
		s.rescope(sb)
	}
	s.table.Set(ep.Network, ep.ID, ep.DNSNames(), ep.IP.Addr(), ep.IP6.Addr())
	s.serveGateway(n)
	return nil
}

// down forgets endpoint id of netName at once, and closes its namespace's
// listener when no endpoint is left there.
func (s *nameService) down(netName, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(netName, id)
}

// forget is down with s.mu held.
func (s *nameService) forget(netName, id string) {
	s.table.Remove(netName, id)
	key := control.Key(netName, id)
	ino, ok := s.where[key]
	if !ok {
		return
	}
	delete(s.where, key)
	sb := s.sandboxes[ino]
	if sb == nil {
		return
	}
	if cur := sb.eps[netName]; cur != nil && cur.ID == id {
		delete(sb.eps, netName)
	}
	if len(sb.eps) == 0 {
		s.closeSandbox(sb)
	} else {
		s.rescope(sb)
	}
}

// rescope recomputes sb's scope: its networks, first attached first, and
// internal when every one of them is. Called with s.mu held.
func (s *nameService) rescope(sb *sandbox) {
	eps := make([]*network.Endpoint, 0, len(sb.eps))
	for _, ep := range sb.eps {
		eps = append(eps, ep)
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Created.Before(eps[j].Created) })
	sc := &dns.Scope{Internal: true}
	for _, ep := range eps {
		sc.Networks = append(sc.Networks, ep.Network)
		if n := s.nets[ep.Network]; n == nil || !n.Internal {
			sc.Internal = false
		}
	}
	sb.scope.Store(sc)
}

// openSandbox makes the UDP and TCP sockets at 127.0.0.11:53 inside ep's
// namespace (the thread enters it only to create them) and serves them
// from the host's namespace.
func (s *nameService) openSandbox(ep *network.Endpoint) (*sandbox, error) {
	if !ep.Alive() {
		return nil, fmt.Errorf("namespace of %q is gone", ep.Target)
	}
	var pc net.PacketConn
	var ln net.Listener
	err := ns.WithNetNSPath(ep.NetNS, func(ns.NetNS) error {
		var err error
		if pc, err = net.ListenPacket("udp4", "127.0.0.11:53"); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", "127.0.0.11:53"); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.11:53 in the namespace of %q: %w", ep.Target, err)
	}
	vns, err := veth.OpenNS(ep.NetNS)
	if err != nil {
		pc.Close()
		ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sb := &sandbox{id: ep.NamespaceKey(), ns: vns, eps: map[string]*network.Endpoint{}, cancel: cancel, done: make(chan struct{})}
	h := &dns.Handler{Table: s.table, Forwarder: s.fwd, ScopeOf: func(mdns.ResponseWriter) (dns.Scope, bool) {
		return *sb.scope.Load(), true
	}}
	// Every client of this listener is the namespace itself (127.0.0.1):
	// one client, so its share of TCP connections is the whole listener.
	srv := &dns.Server{Handler: h, MaxTCPConnsPerClient: dns.DefaultMaxTCPConns}
	go func() {
		defer close(sb.done)
		if err := srv.Serve(ctx, pc, ln); err != nil {
			s.logf("plumb daemon: listener of %q: %v", ep.Target, err)
		}
	}()
	return sb, nil
}

// closeSandbox stops sb's listener and forgets it. Called with s.mu held.
func (s *nameService) closeSandbox(sb *sandbox) {
	sb.cancel()
	<-sb.done
	sb.ns.Close()
	delete(s.sandboxes, sb.id)
}

// sync serves exactly nets, the endpoints of eps whose namespace is
// alive and the remote endpoints of remotes (by network, of nets): names
// and listeners of anything else go.
func (s *nameService) sync(nets []*network.Network, eps []*network.Endpoint, remotes map[string][]network.RemoteEndpoint) {
	s.mu.Lock()
	s.nets = map[string]*network.Network{}
	for _, n := range nets {
		s.nets[n.Name] = n
	}
	for name := range s.gateways {
		if s.nets[name] == nil {
			s.closeGateway(name)
		}
	}
	for name := range s.gatewayFailures {
		if s.nets[name] == nil {
			delete(s.gatewayFailures, name) // created again, it is news again
		}
	}
	for _, n := range nets {
		s.serveGateway(n)
	}
	live := map[string]bool{}
	for _, ep := range eps {
		if ep.Alive() {
			live[control.Key(ep.Network, ep.ID)] = true
		}
	}
	for _, rec := range s.table.Networks() {
		for _, r := range s.table.Records(rec) {
			if remote(r.EndpointID) && s.nets[r.Network] != nil {
				continue // setRemotes' business, below
			}
			if !live[control.Key(r.Network, r.EndpointID)] {
				s.forget(r.Network, r.EndpointID)
			}
		}
	}
	for _, n := range nets {
		s.setRemotesLocked(n.Name, remotes[n.Name])
	}
	s.mu.Unlock()
	for _, ep := range eps {
		if n := s.nets[ep.Network]; n != nil && live[control.Key(ep.Network, ep.ID)] {
			if err := s.up(n, ep); err != nil {
				s.logf("plumb daemon: %v", err)
			}
		}
	}
}

// remotePrefix starts the table ids of remote endpoints (those of other
// hosts of an overlay network), which no local endpoint id has.
const remotePrefix = "remote/"

func remote(tableID string) bool { return strings.HasPrefix(tableID, remotePrefix) }

// remoteTableID is r's id in the table, "remote/HOST/LOCAL-ID", which
// `plumb dns ls` shows as HOST/ and the short local id.
func remoteTableID(r network.RemoteEndpoint) string {
	return remotePrefix + r.Host + "/" + strings.TrimPrefix(r.ID, r.Host+".")
}

// setRemotes serves exactly recs as the remote endpoints of netName: their
// names answer with their addresses (A, or AAAA for an IPv6 one), and the remote endpoints no longer in recs answer no more.
func (s *nameService) setRemotes(netName string, recs []network.RemoteEndpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRemotesLocked(netName, recs)
}

// setRemotesLocked is setRemotes with s.mu held.
func (s *nameService) setRemotesLocked(netName string, recs []network.RemoteEndpoint) {
	want := map[string]bool{}
	for _, r := range recs {
		id := remoteTableID(r)
		want[id] = true
		v4, v6 := r.IP, netip.Addr{}
		if r.IP.Is6() {
			v4, v6 = netip.Addr{}, r.IP
		}
		s.table.Set(netName, id, r.Names, v4, v6)
	}
	for _, r := range s.table.Records(netName) {
		if remote(r.EndpointID) && !want[r.EndpointID] {
			s.table.Remove(netName, r.EndpointID)
		}
	}
}

// prune forgets the endpoints whose namespace went away and closes the
// listeners left with none.
func (s *nameService) prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sb := range s.sandboxes {
		for netName, ep := range sb.eps {
			if !ep.Alive() {
				s.forget(netName, ep.ID)
			}
		}
	}
}

// listeners lists the namespaces (Endpoint.NamespaceKey) with a
// 127.0.0.11 listener, and the endpoints there (control.Key) whose default
// route via their gateway is missing, read on the netlink socket each
// sandbox keeps (no namespace is entered), a few sandboxes at once. An
// endpoint with a default route wants one per family it has an address and
// its network a gateway in (defaultRoutes).
func (s *nameService) listeners() (nss []uint64, noRoute []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sbs []*sandbox
	var wants [][]routeWant
	for id, sb := range s.sandboxes {
		nss = append(nss, id)
		var w []routeWant
		for _, ep := range sb.eps {
			if n := s.nets[ep.Network]; (ep.DefaultRoute || ep.DefaultRoute6) && n != nil {
				w = append(w, defaultRoutes(n, ep)...)
			}
		}
		if len(w) > 0 && sb.ns != nil {
			sbs, wants = append(sbs, sb), append(wants, w)
		}
	}
	missing := make([][]string, len(sbs))
	var wg sync.WaitGroup
	const workers = 4
	for k := range min(workers, len(sbs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < len(sbs); i += workers { // one goroutine per sandbox's socket
				for _, w := range wants[i] {
					ok, err := sbs[i].ns.HasRoute(w.route)
					if (err != nil || !ok) && !slices.Contains(missing[i], w.key) {
						missing[i] = append(missing[i], w.key)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, m := range missing {
		noRoute = append(noRoute, m...)
	}
	return nss, noRoute
}

// routeWant is a default route an endpoint (control.Key) should have.
type routeWant struct {
	key   string
	route veth.Route
}

// defaultRoutes are the default routes the attach gave ep on n:
// 0.0.0.0/0 via n.Gateway when it gave the IPv4 one (ep.DefaultRoute),
// ::/0 via n.Gateway6 when it gave the IPv6 one (ep.DefaultRoute6); none
// for a family whose gateway is zero (isolated gateway mode). Equivalent
// to: `ip route show default` and `ip -6 route show default` inside.
func defaultRoutes(n *network.Network, ep *network.Endpoint) []routeWant {
	key := control.Key(ep.Network, ep.ID)
	var out []routeWant
	if n.Gateway.IsValid() && ep.IP.IsValid() && ep.DefaultRoute {
		out = append(out, routeWant{key, veth.Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: n.Gateway}})
	}
	if n.Gateway6.IsValid() && ep.IP6.IsValid() && ep.DefaultRoute6 {
		out = append(out, routeWant{key, veth.Route{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Gateway: n.Gateway6}})
	}
	return out
}

// records lists the names served on netName, or on every network.
func (s *nameService) records(netName string) []control.Record {
	nets := []string{netName}
	if netName == "" {
		nets = s.table.Networks()
	}
	var out []control.Record
	for _, n := range nets {
		for _, r := range s.table.Records(n) {
			out = append(out, recordOf(r))
		}
	}
	return out
}

// recordOf is r as `plumb dns ls` lists it: IP is the IPv4 address, or the
// IPv6 one for an endpoint without IPv4, so every reader of IP has an
// address to show; IP6 is the IPv6 address, when there is one.
func recordOf(r dns.Record) control.Record {
	rec := control.Record{Network: r.Network, Name: r.Name, Endpoint: r.EndpointID}
	if r.IPv6.IsValid() {
		rec.IP, rec.IP6 = r.IPv6.String(), r.IPv6.String()
	}
	if r.IPv4.IsValid() {
		rec.IP = r.IPv4.String()
	}
	return rec
}

// close stops every listener.
func (s *nameService) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sb := range s.sandboxes {
		s.closeSandbox(sb)
	}
	for name := range s.gateways {
		s.closeGateway(name)
	}
}
