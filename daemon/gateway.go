package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/dns"
	"github.com/plumbnet/plumb/network"
)

// gateway is the listeners on one network's gateway addresses, its IPv4
// gateway and its IPv6 gateway (each when the network has one), for
// runtimes and CNI, answering only clients from that network's subnets.
type gateway struct {
	subnet, subnet6 netip.Prefix // as the network had them when made
	gw, gw6         netip.Addr
	scope           dns.Scope
	serving         map[netip.Addr]*gatewayListener // by gateway address
}

// gatewayListener is one address's UDP and TCP sockets being served.
type gatewayListener struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// gatewayAddrs are the addresses n's gateway listener serves: Gateway and
// Gateway6, each when valid (Gateway6 is zero on an IPv4-only network and
// when the IPv6 gateway mode is isolated).
func gatewayAddrs(n *network.Network) []netip.Addr {
	var out []netip.Addr
	for _, a := range []netip.Addr{n.Gateway, n.Gateway6} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

// admits reports whether a client at ip is on the gateway's network: in
// its IPv4 or its IPv6 subnet.
func (g *gateway) admits(ip netip.Addr) bool {
	ip = ip.Unmap()
	return (g.subnet.IsValid() && g.subnet.Contains(ip)) || (g.subnet6.IsValid() && g.subnet6.Contains(ip))
}

// ensureGateway serves DNS on each of n's gateway addresses (IPv4 and
// IPv6), for clients of n's subnets. An address that cannot be listened on
// does not keep the others from being served; its error is returned and
// the next call tries it again. Called with s.mu held.
func (s *nameService) ensureGateway(n *network.Network) error {
	g := s.gateways[n.Name]
	if g != nil && (g.gw != n.Gateway || g.gw6 != n.Gateway6 || g.subnet != n.Subnet ||
		g.subnet6 != n.Subnet6 || g.scope.Internal != n.Internal) {
		s.closeGateway(n.Name)
		g = nil
	}
	if g == nil {
		g = &gateway{subnet: n.Subnet, subnet6: n.Subnet6, gw: n.Gateway, gw6: n.Gateway6,
			scope:   dns.Scope{Networks: []string{n.Name}, Internal: n.Internal},
			serving: map[netip.Addr]*gatewayListener{}}
	}
	var errs []error
	for _, a := range gatewayAddrs(n) {
		if g.serving[a] != nil {
			continue
		}
		l, err := s.listenGateway(g, n.Name, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		g.serving[a] = l
	}
	if len(g.serving) > 0 {
		s.gateways[n.Name] = g
	}
	return joinErrors(errs)
}

// joinErrors is errs as one error on one line (errors.Join's has one line
// per error, and this one is logged); nil when there are none.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w; %w", errs[0], joinErrors(errs[1:]))
}

// listenGateway makes the UDP and TCP sockets at addr:53 (the host's
// namespace) and serves them for g's network.
func (s *nameService) listenGateway(g *gateway, netName string, addr netip.Addr) (*gatewayListener, error) {
	ap := netip.AddrPortFrom(addr, s.gatewayPort).String()
	udp, tcp := "udp4", "tcp4"
	if addr.Is6() {
		udp, tcp = "udp6", "tcp6"
	}
	lc := listenConfig(addr)
	pc, err := lc.ListenPacket(context.Background(), udp, ap)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for %q: %w", ap, netName, err)
	}
	ln, err := lc.Listen(context.Background(), tcp, ap)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("listening on %s for %q: %w", ap, netName, err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	l := &gatewayListener{cancel: cancel, done: make(chan struct{})}
	// ScopeOf also filters TCP at accept time (dns.Server.Admit's default):
	// a client outside the subnets has its connection closed at once and
	// holds no slot; each member gets at most its share of the listener.
	h := &dns.Handler{Table: s.table, Forwarder: s.fwd, ScopeOf: func(w mdns.ResponseWriter) (dns.Scope, bool) {
		ap, ok := dns.RemoteAddrPort(w)
		return g.scope, ok && g.admits(ap.Addr())
	}}
	go func() {
		defer close(l.done)
		if err := dns.Serve(ctx, pc, ln, h); err != nil {
			s.logf("plumb daemon: gateway listener of %q on %s: %v", netName, addr, err)
		}
	}()
	return l, nil
}

// listenConfig is how a gateway listener binds addr. An IPv6 address is
// bound with IPV6_FREEBIND: a bridge's IPv6 address may still be tentative
// (duplicate address detection) or the bridge not up yet, when the kernel
// refuses a plain bind (EADDRNOTAVAIL); bound freely, the sockets receive
// as soon as the address is usable. An IPv4 address is bound plainly, so a
// missing bridge shows as an error and is retried. Equivalent to:
// `setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, 1)` before bind.
func listenConfig(addr netip.Addr) net.ListenConfig {
	if !addr.Is6() || addr.Is4In6() {
		return net.ListenConfig{}
	}
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
		})
		return errors.Join(err, serr)
	}}
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
		s.logf("plumb daemon: gateway listener of %q on %s is serving again", n.Name, joinAddrs(gatewayAddrs(n)))
	}
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, " and ")
}

// closeGateway stops every gateway listener of netName. Called with s.mu
// held.
func (s *nameService) closeGateway(netName string) {
	g := s.gateways[netName]
	if g == nil {
		return
	}
	for _, l := range g.serving {
		l.cancel()
	}
	for _, l := range g.serving {
		<-l.done
	}
	delete(s.gateways, netName)
}
