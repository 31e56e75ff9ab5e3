package dns

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Stalled connections: a client opens a TCP connection and never sends a
// query. The server's read timeout would close it in the end; these tests
// set it long (30s) so a connection is only closed early by the limits.
const stallTimeout = 30 * time.Second

// serveNoProbe serves srv on fresh 127.0.0.1 sockets without a readiness
// probe (startServer's probe is itself a TCP connection that holds a slot
// for a moment): the listener is bound before Serve starts, so the kernel
// queues connections until the server accepts them, in order.
func serveNoProbe(t *testing.T, srv *Server) string {
	t.Helper()
	pc, ln := listenPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, pc, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// dialFrom opens a TCP connection to addr from the loopback address src
// (any 127.0.0.0/8 address is local on Linux) and closes it at cleanup.
func dialFrom(t *testing.T, src netip.Addr, addr string) *mdns.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return &mdns.Conn{Conn: c}
}

// askOn sends one query for web on c and checks the answer.
func askOn(c *mdns.Conn) error {
	m := new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMsg(m); err != nil {
		return err
	}
	r, err := c.ReadMsg()
	if err != nil {
		return err
	}
	if len(r.Answer) != 1 {
		return errors.New("no answer")
	}
	return nil
}

// heldOpen counts the connections of cs the server has not hung up (EOF or
// reset) by the deadline; it sends nothing on them. They are read at once,
// so each has the whole time.
func heldOpen(cs []*mdns.Conn, deadline time.Time) int {
	timedOut := make(chan bool, len(cs))
	for _, c := range cs {
		go func() {
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c.Conn) // the raw stream: mdns.Conn reads messages
			var ne net.Error
			timedOut <- errors.As(err, &ne) && ne.Timeout()
		}()
	}
	held := 0
	for range cs {
		if <-timedOut {
			held++
		}
	}
	return held
}

// stall opens n connections from src that never send a query.
func stall(t *testing.T, src netip.Addr, addr string, n int) []*mdns.Conn {
	t.Helper()
	var cs []*mdns.Conn
	for range n {
		cs = append(cs, dialFrom(t, src, addr))
	}
	return cs
}

// membersAllAnswered opens n connections from members (round robin) and
// keeps them open, then asks one query on each: every one must be
// answered.
func membersAllAnswered(t *testing.T, addr string, n int, members ...netip.Addr) {
	t.Helper()
	var cs []*mdns.Conn
	for i := range n {
		cs = append(cs, dialFrom(t, members[i%len(members)], addr))
	}
	answered := 0
	for i, c := range cs {
		if err := askOn(c); err != nil {
			t.Logf("member query %d from %s: %v", i, members[i%len(members)], err)
			continue
		}
		answered++
	}
	if answered != n {
		t.Errorf("members' TCP queries answered: %d of %d", answered, n)
	}
}

// Defect 11: a stranger (a client ScopeOf refuses) holding stalled TCP
// connections must not hold a slot: each of its connections is closed at
// once, and members' queries are all answered.
func TestTCPStrangerHoldsNoSlot(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	addr := serveNoProbe(t, &Server{Handler: h, ReadTimeout: stallTimeout, IdleTimeout: stallTimeout, MaxTCPConns: 16})
	strangers := stall(t, srcStranger, addr, 32)
	membersAllAnswered(t, addr, 10, srcFront, srcBack, srcBoth)
	// The deadline is far below stallTimeout: only the limits close early.
	if held := heldOpen(strangers, time.Now().Add(5*time.Second)); held != 0 {
		t.Errorf("%d of the stranger's %d stalled connections held open, want 0", held, len(strangers))
	}
}

// One member holding more stalled connections than the whole listener
// allows gets no more than the per-client share: the others are served.
func TestTCPOneMemberCannotStarveOthers(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	addr := serveNoProbe(t, &Server{Handler: h, ReadTimeout: stallTimeout, IdleTimeout: stallTimeout, MaxTCPConns: 32})
	stall(t, srcFront, addr, 32)
	membersAllAnswered(t, addr, 10, srcBack, srcBoth)
}

// Server.Admit, when set, is the accept-time check instead of ScopeOf:
// here it refuses 127.0.0.2, a member by ScopeOf, and 127.0.0.2's stalled
// connections are closed at once while the others are all answered.
func TestTCPAdmitRefusesBeforeASlot(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	refused := srcBack
	admit := func(ap netip.AddrPort) bool { return ap.Addr() != refused }
	addr := serveNoProbe(t, &Server{Handler: h, Admit: admit, ReadTimeout: stallTimeout, IdleTimeout: stallTimeout, MaxTCPConns: 4})
	stalled := stall(t, refused, addr, 8)
	membersAllAnswered(t, addr, 3, srcFront, srcBoth)
	if held := heldOpen(stalled, time.Now().Add(5*time.Second)); held != 0 {
		t.Errorf("%d of the refused client's %d connections held open, want 0", held, len(stalled))
	}
}

// MaxTCPConnsPerClient holds: a client's connection over its share is
// closed at once, other clients are still served, and closing one of its
// connections gives the share back.
func TestTCPPerClientCap(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	addr := serveNoProbe(t, &Server{Handler: h, ReadTimeout: stallTimeout, IdleTimeout: stallTimeout, MaxTCPConns: 8, MaxTCPConnsPerClient: 2})
	a, b := dialFrom(t, srcFront, addr), dialFrom(t, srcFront, addr)
	for _, c := range []*mdns.Conn{a, b} {
		if err := askOn(c); err != nil {
			t.Fatalf("within the share: %v", err)
		}
	}
	over := dialFrom(t, srcFront, addr)
	if held := heldOpen([]*mdns.Conn{over}, time.Now().Add(5*time.Second)); held != 0 {
		t.Error("a third connection from one client held open with a share of 2")
	}
	membersAllAnswered(t, addr, 4, srcBack, srcBoth)

	a.Close() // gives the share back once the server sees it
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err = askOn(dialFrom(t, srcFront, addr)); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("the share was not given back after a close: %v", err)
	}
	if err := askOn(b); err != nil {
		t.Errorf("an open connection stopped working: %v", err)
	}
}
