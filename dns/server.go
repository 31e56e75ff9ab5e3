package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// Server defaults, used when a Server field is zero.
const (
	DefaultReadTimeout  = 2 * time.Second // first query on a TCP connection
	DefaultWriteTimeout = 2 * time.Second // each TCP write
	DefaultIdleTimeout  = 8 * time.Second // between queries on a TCP connection (RFC 7766)
	DefaultMaxTCPConns  = 256             // per listener
	// DefaultMaxTCPConnsPerClient is one client address's share of a
	// listener's TCP connections: 16 addresses at least are served at once
	// however greedy the others are.
	DefaultMaxTCPConnsPerClient = 16
)

// udpReadSize is the buffer a UDP query is read into; a larger datagram is
// cut (and then most likely answered FORMERR).
const udpReadSize = mdns.DefaultMsgSize

// Server answers DNS over a UDP socket and a TCP listener the caller made:
// the daemon makes them inside each container's network namespace
// (127.0.0.11) and on each network's gateway addresses (IPv4 and IPv6),
// and passes them in.
// UDP is served by plumb's own loop (udpServer: batched reads and writes,
// common queries answered without miekg/dns), TCP by a miekg/dns server.
type Server struct {
	Handler mdns.Handler

	ReadTimeout  time.Duration // zero: DefaultReadTimeout
	WriteTimeout time.Duration // zero: DefaultWriteTimeout
	IdleTimeout  time.Duration // zero: DefaultIdleTimeout
	// MaxTCPConns bounds open TCP connections; one over the limit is
	// accepted and closed at once, so the client fails fast instead of
	// waiting in the kernel's backlog. Zero: DefaultMaxTCPConns.
	MaxTCPConns int
	// MaxTCPConnsPerClient bounds the open TCP connections of one client
	// address (its IP, whatever the port), so one client cannot take the
	// whole listener; one over it is closed at once like one over
	// MaxTCPConns. Zero: DefaultMaxTCPConnsPerClient.
	MaxTCPConnsPerClient int
	// Admit decides, when a TCP connection is accepted and before it holds
	// anything, whether its client may talk to the server at all; a refused
	// connection is closed at once and counts against no limit. Nil: a
	// *Handler's ScopeOf decides, as it does for every UDP datagram (so a
	// stranger holds no TCP slot, as it gets no UDP answer); for any other
	// handler every client is admitted.
	Admit func(client netip.AddrPort) bool
}

// Serve is (&Server{Handler: h}).Serve(ctx, pc, ln).
func Serve(ctx context.Context, pc net.PacketConn, ln net.Listener, h mdns.Handler) error {
	return (&Server{Handler: h}).Serve(ctx, pc, ln)
}

// Serve answers DNS over pc (UDP) and ln (TCP) until ctx is done or either
// fails; either may be nil, not both. It takes ownership of pc and ln and
// has closed both when it returns. It returns nil when stopped by ctx, and
// otherwise the first error. When Serve returns, no call to the handler is
// still running.
//
// Every message that is not a response reaches the handler (miekg/dns's
// default filter, which answers FORMERR and NOTIMP before the handler
// sees the query, is replaced, so the handler decides even that per client);
// responses are dropped, so two servers cannot loop. Over UDP a *Handler's
// ScopeOf is asked first, so a stranger gets no answer even to bytes that
// are not DNS; over TCP it is asked (or s.Admit) when a connection is
// accepted, so a stranger's connection is closed at once and holds none of
// the connection slots (MaxTCPConns, MaxTCPConnsPerClient); common queries for the table's names are answered by the
// loop itself (Handler.answerFast), byte for byte as ServeDNS would.
//
// It runs on the caller's goroutine, with one more for TCP when there are
// both, and none watching ctx (context.AfterFunc does): the daemon runs one
// Serve per attached namespace, and idle goroutines were a good part of
// its memory.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
	closeAll := func() {
		if pc != nil {
			_ = pc.Close()
		}
		if ln != nil {
			_ = ln.Close()
		}
	}
	if pc == nil && ln == nil {
		return errors.New("serving dns: no packet conn and no listener")
	}
	if s.Handler == nil {
		closeAll()
		return errors.New("serving dns: no handler")
	}
	defer closeAll() // the servers close them too; closing twice is harmless

	var tcp *mdns.Server
	if ln != nil {
		tcp = s.tcpServer(ln)
	}

	// miekg/dns refuses to shut down a server that has not started yet, so
	// the TCP server is shut down once both it has started and we are
	// stopping. Closing pc ends the UDP loop.
	var mu sync.Mutex
	stopping, started := false, false
	shutdownTCP := func() { go func() { _ = tcp.Shutdown() }() }
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopping {
			return
		}
		stopping = true
		if pc != nil {
			_ = pc.Close()
		}
		if tcp != nil && started {
			shutdownTCP()
		}
	}
	if tcp != nil {
		tcp.NotifyStartedFunc = func() {
			mu.Lock()
			defer mu.Unlock()
			started = true
			if stopping {
				shutdownTCP()
			}
		}
	}
	unwatch := context.AfterFunc(ctx, stop)
	defer unwatch()

	var udpErr, tcpErr error
	switch {
	case pc == nil:
		tcpErr = tcp.ActivateAndServe()
	case tcp == nil:
		udpErr = newUDPServer(pc, s.Handler).serve()
	default:
		done := make(chan struct{})
		go func() {
			defer close(done)
			tcpErr = tcp.ActivateAndServe()
			stop()
		}()
		udpErr = newUDPServer(pc, s.Handler).serve()
		stop()
		<-done
	}
	stop()
	if udpErr != nil {
		return fmt.Errorf("serving dns on udp %s: %w", pc.LocalAddr(), udpErr)
	}
	if tcpErr != nil {
		return fmt.Errorf("serving dns on tcp %s: %w", ln.Addr(), tcpErr)
	}
	return nil
}

// tcpServer is the miekg/dns server of ln, with s's timeouts, its
// admission check and its bounds on open connections.
func (s *Server) tcpServer(ln net.Listener) *mdns.Server {
	idle := or(s.IdleTimeout, DefaultIdleTimeout)
	tcp := &mdns.Server{
		Handler:       s.Handler,
		ReadTimeout:   or(s.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:  or(s.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:   func() time.Duration { return idle },
		MsgAcceptFunc: acceptQueries,
	}
	tcp.Listener = newLimitListener(ln, s.admitter(), orInt(s.MaxTCPConns, DefaultMaxTCPConns),
		orInt(s.MaxTCPConnsPerClient, DefaultMaxTCPConnsPerClient),
		tcp.WriteTimeout) // miekg/dns does not apply it itself
	return tcp
}

// acceptQueries lets every message but a response through to the handler.
func acceptQueries(dh mdns.Header) mdns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return mdns.MsgIgnore
	}
	return mdns.MsgAccept
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// RemoteAddrPort returns the client address of a query, IPv4-mapped
// addresses unmapped; false when w's address is not IP (a test double, say).
// It is what a ScopeOf usually starts from.
func RemoteAddrPort(w mdns.ResponseWriter) (netip.AddrPort, bool) {
	return addrPort(w.RemoteAddr())
}

// LocalAddrPort returns the address of the socket a query arrived on, IPv4-
// mapped addresses unmapped: the listener's address, which is why the daemon
// binds each listener to one address rather than a wildcard.
func LocalAddrPort(w mdns.ResponseWriter) (netip.AddrPort, bool) {
	return addrPort(w.LocalAddr())
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		if a == nil {
			return ap, false
		}
		ap = a.AddrPort()
	case *net.TCPAddr:
		if a == nil {
			return ap, false
		}
		ap = a.AddrPort()
	default:
		return ap, false
	}
	if !ap.IsValid() {
		return ap, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
