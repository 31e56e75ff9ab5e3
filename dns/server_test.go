package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// garbage is what a hostile or broken client might send.
func garbage() [][]byte {
	valid := new(mdns.Msg)
	valid.SetQuestion("web.", mdns.TypeA)
	vb, _ := valid.Pack()
	resp := new(mdns.Msg)
	resp.SetQuestion("web.", mdns.TypeA)
	resp.Response = true
	rb, _ := resp.Pack()
	loop := append(slices.Clone(vb[:12]), 0xc0, 12, 0, 1, 0, 1) // name pointing at itself
	return [][]byte{
		{},
		{0},
		vb[:11],          // short header
		vb[:12],          // header promising a question, no question
		vb[:len(vb)-1],   // question cut short
		append(vb, 1, 2), // trailing bytes
		rb,               // a response: must be ignored
		loop,             // compression loop
		{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // absurd counts
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		make([]byte, 3000), // zeros, bigger than a query
	}
}

func TestGarbageUDP(t *testing.T) {
	addr, _ := serverWithUpstream(t)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, g := range garbage() {
		if _, err := conn.Write(g); err != nil {
			t.Fatal(err)
		}
	}
	// Drain whatever came back (FORMERRs from miekg/dns for unparseable
	// messages), checking that no reply is larger than a request could be.
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 65536)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		if n > 512 {
			t.Errorf("a %d-byte reply to garbage", n)
		}
	}
	for _, network := range []string{"udp", "tcp"} {
		if got := addrsOf(query(t, client(network, srcFront, 2*time.Second), addr, "web.", mdns.TypeA)); !slices.Equal(got, []netip.Addr{webV4}) {
			t.Errorf("after garbage, %s: web = %v", network, got)
		}
	}
}

func TestGarbageTCP(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	addr := startServer(t, &Server{Handler: h, ReadTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond})
	frame := func(b []byte) []byte {
		return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
	}
	var sends [][]byte
	for _, g := range garbage() {
		sends = append(sends, frame(g))
	}
	sends = append(sends,
		[]byte{0},                 // half a length
		[]byte{0xff, 0xff, 1, 2},  // promises 64KiB, sends 2 bytes
		[]byte{0, 0},              // zero-length message
		[]byte("\x00\x05garbage"), // length shorter than what follows
	)
	var open []net.Conn
	for _, s := range sends {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		if _, err := c.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	// Some connections are left half-sent: the server must close them after
	// its read timeout rather than hold them.
	for i, c := range open {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("connection %d (%q): not closed by the server: %v", i, sends[i], err)
		}
		c.Close()
	}
	for _, network := range []string{"tcp", "udp"} {
		if got := addrsOf(query(t, client(network, srcFront, 2*time.Second), addr, "web.", mdns.TypeA)); !slices.Equal(got, []netip.Addr{webV4}) {
			t.Errorf("after garbage, %s: web = %v", network, got)
		}
	}
}

func TestTCPConnectionLimit(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	addr := startServer(t, &Server{Handler: h, ReadTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second, MaxTCPConns: 2})
	dial := func() *mdns.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return &mdns.Conn{Conn: c}
	}
	ask := func(c *mdns.Conn) error {
		m := new(mdns.Msg)
		m.SetQuestion("web.", mdns.TypeA)
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if err := c.WriteMsg(m); err != nil {
			return err
		}
		r, err := c.ReadMsg()
		if err == nil && len(r.Answer) != 1 {
			return errors.New("no answer")
		}
		return err
	}
	// startServer's readiness probe holds a slot until the server sees it
	// closed, so the first two connections may take a few tries.
	served := func() *mdns.Conn {
		t.Helper()
		var err error
		for range 100 {
			c := dial()
			if err = ask(c); err == nil {
				return c
			}
			c.Close()
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("within the limit: %v", err)
		return nil
	}
	a := served()
	defer a.Close()
	b := served()
	defer b.Close()
	over := dial()
	if err := ask(over); err == nil {
		t.Error("a third connection was served with a limit of 2")
	}
	over.Close()

	a.Close()        // frees a slot once the server sees it
	served().Close() // fails the test if the slot is never freed
	if err := ask(b); err != nil {
		t.Errorf("an open connection stopped working: %v", err)
	}
}

func TestServeStopsAndCloses(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}

	pc, ln := listenPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, pc, ln, h) }()
	waitServing(t, ln.Addr().String())
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if _, err := pc.WriteTo([]byte{0}, pc.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("packet conn not closed: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener not closed: %v", err)
	}

	// Cancelled before the servers even start; and UDP or TCP alone.
	for _, tc := range []struct {
		name   string
		udp    bool
		tcp    bool
		before bool
	}{{"cancelled first", true, true, true}, {"udp only", true, false, false}, {"tcp only", false, true, true}} {
		pc, ln := listenPair(t)
		var (
			p net.PacketConn
			l net.Listener
		)
		if tc.udp {
			p = pc
		} else {
			pc.Close()
		}
		if tc.tcp {
			l = ln
		} else {
			ln.Close()
		}
		ctx, cancel := context.WithCancel(context.Background())
		if tc.before {
			cancel()
		} else {
			time.AfterFunc(50*time.Millisecond, cancel)
		}
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, p, l, h) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Serve did not return", tc.name)
		}
		cancel()
	}

	if err := Serve(context.Background(), nil, nil, h); err == nil {
		t.Error("Serve with no sockets: no error")
	}
	pc, ln = listenPair(t)
	if err := Serve(context.Background(), pc, ln, nil); err == nil {
		t.Error("Serve with no handler: no error")
	}
}

// A socket that fails makes Serve stop the other and return the error.
func TestServeReturnsSocketError(t *testing.T) {
	pc, ln := listenPair(t)
	errc := make(chan error, 1)
	go func() { errc <- Serve(context.Background(), pc, &failingListener{ln}, &Handler{}) }()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("no error from a failing listener")
		} else {
			t.Logf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
	if _, err := pc.WriteTo([]byte{0}, pc.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("packet conn not closed: %v", err)
	}
}

type failingListener struct{ net.Listener }

func (l *failingListener) Accept() (net.Conn, error) { return nil, errors.New("accept: broken") }

func TestAddrPortHelpers(t *testing.T) {
	w := newFakeWriter(srcBack, true)
	if ap, ok := RemoteAddrPort(w); !ok || ap.Addr() != srcBack {
		t.Errorf("RemoteAddrPort = %v %v", ap, ok)
	}
	if ap, ok := LocalAddrPort(w); !ok || ap != netip.MustParseAddrPort("127.0.0.11:53") {
		t.Errorf("LocalAddrPort = %v %v", ap, ok)
	}
	w.remote = &net.UDPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 5}
	if ap, ok := RemoteAddrPort(w); !ok || ap != netip.MustParseAddrPort("10.0.0.1:5") {
		t.Errorf("mapped RemoteAddrPort = %v %v", ap, ok)
	}
	w.remote = &net.UnixAddr{Name: "x"}
	if _, ok := RemoteAddrPort(w); ok {
		t.Error("unix address accepted")
	}
	w.remote = (*net.UDPAddr)(nil)
	if _, ok := RemoteAddrPort(w); ok {
		t.Error("nil address accepted")
	}
}

// miekg/dns does not apply Server.WriteTimeout; the listener wrapper does:
// a client that never reads cannot hold a connection's writer forever.
func TestTCPWriteTimeout(t *testing.T) {
	server, peer := net.Pipe() // unbuffered: a write blocks until the peer reads
	defer peer.Close()
	l := newLimitListener(nil, nil, 1, 1, 100*time.Millisecond)
	l.take(netip.Addr{})
	c := &limitedConn{Conn: server, l: l}
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, 100))
		done <- err
	}()
	select {
	case err := <-done:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("write to a peer that never reads: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("write blocked past its deadline")
	}
	c.Close()
	c.Close() // the slot is released once only
	if l.open != 0 || len(l.per) != 0 {
		t.Errorf("after close: %d open, per client %v; want none", l.open, l.per)
	}
}

func TestTCPIdleConnectionClosed(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	addr := startServer(t, &Server{Handler: h, IdleTimeout: 100 * time.Millisecond})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &mdns.Conn{Conn: nc}
	defer c.Close()
	m := new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	// Then silence: the server hangs up after the idle timeout.
	if _, err := c.ReadMsg(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v, want EOF from the server closing it", err)
	}
}
