package dns

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// admitter is the accept-time check of s's TCP listener: s.Admit on the
// client's address, else a *Handler's ScopeOf on the connection's
// addresses, else nil (every client is admitted).
func (s *Server) admitter() func(net.Conn) bool {
	if s.Admit != nil {
		admit := s.Admit
		return func(c net.Conn) bool {
			ap, ok := addrPort(c.RemoteAddr())
			return ok && admit(ap)
		}
	}
	if h, ok := s.Handler.(*Handler); ok {
		if h.ScopeOf == nil {
			return func(net.Conn) bool { return false } // it answers no one
		}
		return func(c net.Conn) bool {
			_, ok := h.ScopeOf(&addrsOnly{local: c.LocalAddr(), remote: c.RemoteAddr()})
			return ok
		}
	}
	return nil
}

// limitListener is the TCP listener the miekg/dns server accepts from.
// Accept returns only connections that admit lets in (nil: all) while
// fewer than max are open and fewer than perClient are open from the same
// client address; any other connection is closed at once and held nowhere,
// so a client refused or over its share costs the others nothing. The
// connections it returns enforce a write deadline on every write.
type limitListener struct {
	net.Listener
	admit          func(net.Conn) bool
	max, perClient int
	writeTimeout   time.Duration

	mu   sync.Mutex
	open int
	per  map[netip.Addr]int // open connections by client address
}

func newLimitListener(ln net.Listener, admit func(net.Conn) bool, max, perClient int, writeTimeout time.Duration) *limitListener {
	return &limitListener{Listener: ln, admit: admit, max: max, perClient: perClient,
		writeTimeout: writeTimeout, per: map[netip.Addr]int{}}
}

// Accept returns the next connection within the limits; it returns an
// error only when the underlying listener does.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit != nil && !l.admit(c) {
			_ = c.Close()
			continue
		}
		client := clientAddr(c)
		if !l.take(client) {
			_ = c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: l, client: client}, nil
	}
}

// clientAddr is the client's IP (unmapped); the zero Addr for a connection
// that is not IP, which all share one count.
func clientAddr(c net.Conn) netip.Addr {
	ap, _ := addrPort(c.RemoteAddr())
	return ap.Addr()
}

// take counts one more connection of client, if the limits allow it.
func (l *limitListener) take(client netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max || l.per[client] >= l.perClient {
		return false
	}
	l.open++
	l.per[client]++
	return true
}

// release uncounts one connection of client.
func (l *limitListener) release(client netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.per[client]--; l.per[client] <= 0 {
		delete(l.per, client)
	}
}

// limitedConn is an accepted connection: counted until its first Close,
// and with a write deadline on each write.
type limitedConn struct {
	net.Conn
	l      *limitListener
	client netip.Addr
	once   sync.Once
}

func (c *limitedConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.l.writeTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.client) })
	return err
}

// addrsOnly is the mdns.ResponseWriter ScopeOf sees at accept time: the
// connection's addresses, and nothing can be written.
type addrsOnly struct{ local, remote net.Addr }

var _ mdns.ResponseWriter = (*addrsOnly)(nil)

var errAcceptTime = errors.New("no reply at accept time")

func (w *addrsOnly) LocalAddr() net.Addr       { return w.local }
func (w *addrsOnly) RemoteAddr() net.Addr      { return w.remote }
func (w *addrsOnly) WriteMsg(*mdns.Msg) error  { return errAcceptTime }
func (w *addrsOnly) Write([]byte) (int, error) { return 0, errAcceptTime }
func (w *addrsOnly) Close() error              { return nil }
func (w *addrsOnly) TsigStatus() error         { return nil }
func (w *addrsOnly) TsigTimersOnly(bool)       {}
func (w *addrsOnly) Hijack()                   {}
