package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	mdns "github.com/miekg/dns"

	"github.com/plumbnet/plumb/dns"
	"github.com/plumbnet/plumb/network"
)

// gateway is the listener on one network's gateway address, for runtimes
// and CNI, answering only clients from that network's subnet.
type gateway struct {
	subnet netip.Prefix
	addr   netip.Addr
	cancel context.CancelFunc
	done   chan struct{}
}

// ensureGateway serves DNS on n's gateway address, for clients of n's
// subnet. Called with s.mu held.
func (s *nameService) ensureGateway(n *network.Network) error {
	if g := s.gateways[n.Name]; g != nil {
		if g.addr == n.Gateway && g.subnet == n.Subnet {
			return nil
		}
		s.closeGateway(n.Name)
	}
	addr := netip.AddrPortFrom(n.Gateway, s.gatewayPort).String()
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return fmt.Errorf("listening on %s for %q: %w", addr, n.Name, err)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("listening on %s for %q: %w", addr, n.Name, err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	g := &gateway{subnet: n.Subnet, addr: n.Gateway, cancel: cancel, done: make(chan struct{})}
	scope := dns.Scope{Networks: []string{n.Name}, Internal: n.Internal}
	// ScopeOf also filters TCP at accept time (dns.Server.Admit's default):
	// a client outside the subnet has its connection closed at once and
	// holds no slot; each member gets at most its share of the listener.
	h := &dns.Handler{Table: s.table, Forwarder: s.fwd, ScopeOf: func(w mdns.ResponseWriter) (dns.Scope, bool) {
		ap, ok := dns.RemoteAddrPort(w)
		return scope, ok && g.subnet.Contains(ap.Addr().Unmap())
	}}
	go func() {
		defer close(g.done)
		if err := dns.Serve(ctx, pc, ln, h); err != nil {
			s.logf("plumb daemon: gateway listener of %q: %v", n.Name, err)
		}
	}()
	s.gateways[n.Name] = g
	return nil
}

// serveGateway is ensureGateway for the retries of up and sync, which
// would otherwise log the same failure on every call while n's bridge is
// missing: a failure is logged once per network and cause (its error
// text), and the first success after one is logged as a recovery. Called
// with s.mu held.
func (s *nameService) serveGateway(n *network.Network) {
	err := s.ensureGateway(n)
	last, failing := s.gatewayFailures[n.Name]
	switch {
	case err != nil && (!failing || last != err.Error()):
		s.gatewayFailures[n.Name] = err.Error()
		s.logf("plumb daemon: %v (retried on each sync; logged again only when it changes)", err)
	case err == nil && failing:
		delete(s.gatewayFailures, n.Name)
		s.logf("plumb daemon: gateway listener of %q on %s is serving again", n.Name, n.Gateway)
	}
}

// closeGateway stops the gateway listener of netName. Called with s.mu held.
func (s *nameService) closeGateway(netName string) {
	if g := s.gateways[netName]; g != nil {
		g.cancel()
		<-g.done
		delete(s.gateways, netName)
	}
}
