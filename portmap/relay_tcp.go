package portmap

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// tcpRelay is a held TCP socket that listens and relays each connection
// to target, as docker-proxy does: accept, connect to the target, copy
// both ways, pass a half-close on, and close both once both ways have
// ended or either failed.
type tcpRelay struct {
	ln       net.Listener
	target   netip.AddrPort
	loopOnly bool
	ctx      context.Context // ends at Close: stops connects in progress
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // every open connection, both sides
	closed bool
}

// newTCPRelay listens on the bound socket fd (`listen(fd, SOMAXCONN)`) and
// starts relaying; it owns fd.
func newTCPRelay(fd int, target netip.AddrPort, loopOnly bool) (*tcpRelay, error) {
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) { // bound by another SO_REUSEADDR socket
			return nil, ErrInUse
		}
		return nil, err
	}
	ln, err := fileConn(fd, net.FileListener)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &tcpRelay{ln: ln, target: target, loopOnly: loopOnly, ctx: ctx, cancel: cancel,
		conns: map[net.Conn]struct{}{}}
	t.wg.Add(1)
	go t.serve()
	return t, nil
}

// Close stops listening, closes every relayed connection and returns once
// the relay's goroutines have ended: the port is free.
func (t *tcpRelay) Close() error {
	t.mu.Lock()
	t.closed = true
	conns := t.conns
	t.conns = nil
	t.mu.Unlock()
	t.cancel()
	err := t.ln.Close()
	for c := range conns {
		c.Close()
	}
	t.wg.Wait()
	return err
}

func (t *tcpRelay) serve() {
	defer t.wg.Done()
	var delay time.Duration
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if closedErr(err) {
				return
			}
			delay = acceptBackoff(delay)
			if !sleepCtx(t.ctx, delay) {
				return
			}
			continue
		}
		delay = 0
		if !t.track(c) {
			c.Close()
			return
		}
		t.wg.Add(1)
		go t.relay(c.(*net.TCPConn))
	}
}

// track records c as open, unless the relay is closed.
func (t *tcpRelay) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

// forget closes c and drops it from the open ones.
func (t *tcpRelay) forget(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

// relay serves one client: a client the relay is not for, or whose
// target refuses or does not answer, is reset, never left hanging.
func (t *tcpRelay) relay(c *net.TCPConn) {
	defer t.wg.Done()
	defer t.forget(c)
	local := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr()
	if t.loopOnly && !isLoopback(local) {
		c.SetLinger(0)
		return
	}
	d := net.Dialer{Timeout: DialTimeout}
	b, err := d.DialContext(t.ctx, "tcp", t.target.String())
	if err != nil {
		c.SetLinger(0)
		return
	}
	if !t.track(b) {
		b.Close()
		return
	}
	defer t.forget(b)
	splice(c, b.(*net.TCPConn))
}

// splice copies a to b and b to a until both ways end: an end of stream
// is passed on as a half-close (shutdown(SHUT_WR)); an error closes both.
func splice(a, b *net.TCPConn) {
	done := make(chan struct{})
	go func() {
		pipe(b, a)
		close(done)
	}()
	pipe(a, b)
	<-done
}

// pipe copies src to dst (splice(2) where the kernel can).
func pipe(dst, src *net.TCPConn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	dst.CloseWrite()
}
