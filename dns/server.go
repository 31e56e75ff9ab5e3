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
)

// udpReadSize is the buffer a UDP query is read into; a larger datagram is
// cut and answered FORMERR.
const udpReadSize = mdns.DefaultMsgSize

// Server runs a miekg/dns server for UDP and one for TCP on sockets the
// caller made: the daemon makes them inside each container's network
// namespace (127.0.0.11) and on each network's gateway address, and passes
// them in.
type Server struct {
	Handler mdns.Handler

	ReadTimeout  time.Duration // zero: DefaultReadTimeout
	WriteTimeout time.Duration // zero: DefaultWriteTimeout
	IdleTimeout  time.Duration // zero: DefaultIdleTimeout
	// MaxTCPConns bounds open TCP connections; one over the limit is
	// accepted and closed at once, so the client fails fast instead of
	// waiting in the kernel's backlog. Zero: DefaultMaxTCPConns.
	MaxTCPConns int
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
// responses are dropped, so two servers cannot loop.
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

	read := or(s.ReadTimeout, DefaultReadTimeout)
	idle := or(s.IdleTimeout, DefaultIdleTimeout)
	base := func() *mdns.Server {
		return &mdns.Server{
			Handler:       s.Handler,
			ReadTimeout:   read,
			WriteTimeout:  or(s.WriteTimeout, DefaultWriteTimeout),
			IdleTimeout:   func() time.Duration { return idle },
			MsgAcceptFunc: acceptQueries,
		}
	}
	var servers []*mdns.Server
	var names []string
	if pc != nil {
		srv := base()
		srv.PacketConn = pc
		srv.UDPSize = udpReadSize
		servers = append(servers, srv)
		names = append(names, "udp "+pc.LocalAddr().String())
	}
	if ln != nil {
		maxConns := s.MaxTCPConns
		if maxConns <= 0 {
			maxConns = DefaultMaxTCPConns
		}
		srv := base()
		srv.Listener = &limitListener{
			Listener:     ln,
			slots:        make(chan struct{}, maxConns),
			writeTimeout: srv.WriteTimeout, // miekg/dns does not apply it itself
		}
		servers = append(servers, srv)
		names = append(names, "tcp "+ln.Addr().String())
	}

	// No goroutine of our own watches the servers: the first one runs on
	// the caller's goroutine, ctx is watched by context.AfterFunc. The
	// daemon runs one Serve per attached namespace, and a thousand idle
	// watcher goroutines were a quarter of its memory.
	var mu sync.Mutex
	stopping := false
	started := make([]bool, len(servers))
	// miekg/dns refuses to shut down a server that has not started yet, so
	// each is shut down once both it has started and we are stopping.
	shutdown := func(i int) { go func() { _ = servers[i].Shutdown() }() }
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopping {
			return
		}
		stopping = true
		for i, ok := range started {
			if ok {
				shutdown(i)
			}
		}
	}
	for i, srv := range servers {
		srv.NotifyStartedFunc = func() {
			mu.Lock()
			defer mu.Unlock()
			started[i] = true
			if stopping {
				shutdown(i)
			}
		}
	}
	unwatch := context.AfterFunc(ctx, stop)
	defer unwatch()

	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i := 1; i < len(servers); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = servers[i].ActivateAndServe()
			stop()
		}()
	}
	errs[0] = servers[0].ActivateAndServe()
	stop()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("serving dns on %s: %w", names[i], err)
		}
	}
	return nil
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

// limitListener hands out at most cap(slots) connections at once; the
// connections it returns enforce a write deadline on every write.
type limitListener struct {
	net.Listener
	slots        chan struct{}
	writeTimeout time.Duration
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, l: l}, nil
		default:
			_ = c.Close()
		}
	}
}

type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitedConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.l.writeTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.slots })
	return err
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
