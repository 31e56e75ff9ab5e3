package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Test clients are told apart by their loopback source address, the way the
// daemon tells containers apart by theirs.
var (
	srcFront    = netip.MustParseAddr("127.0.0.1") // on "front"
	srcBack     = netip.MustParseAddr("127.0.0.2") // on "back"
	srcInternal = netip.MustParseAddr("127.0.0.3") // on "locked", internal
	srcBoth     = netip.MustParseAddr("127.0.0.4") // on "front" then "back"
	srcStranger = netip.MustParseAddr("127.0.0.9") // no scope: dropped
)

func testScopeOf(w mdns.ResponseWriter) (Scope, bool) {
	ap, ok := RemoteAddrPort(w)
	if !ok {
		return Scope{}, false
	}
	switch ap.Addr() {
	case srcFront:
		return Scope{Networks: []string{"front"}}, true
	case srcBack:
		return Scope{Networks: []string{"back"}}, true
	case srcInternal:
		return Scope{Networks: []string{"locked"}, Internal: true}, true
	case srcBoth:
		return Scope{Networks: []string{"front", "back"}}, true
	}
	return Scope{}, false
}

var (
	webV4    = netip.MustParseAddr("10.1.0.2")
	webV6    = netip.MustParseAddr("fd00:1::2")
	apiV4    = netip.MustParseAddr("10.1.0.3")
	dbV4     = netip.MustParseAddr("10.2.0.2")
	webBack  = netip.MustParseAddr("10.2.0.5")
	secretV4 = netip.MustParseAddr("10.3.0.2")
)

// testTable: "web" is on both front and back, with different addresses.
func testTable() *Table {
	t := NewTable()
	t.Set("front", "ep-web", []string{"web", "www", "0123456789ab"}, webV4, webV6)
	t.Set("front", "ep-api", []string{"api"}, apiV4, netip.Addr{})
	t.Set("back", "ep-db", []string{"db"}, dbV4, netip.Addr{})
	t.Set("back", "ep-web2", []string{"web"}, webBack, netip.Addr{})
	t.Set("locked", "ep-secret", []string{"secret"}, secretV4, netip.Addr{})
	return t
}

// startServer serves h on fresh 127.0.0.1 UDP and TCP sockets (same port)
// and returns the address. Serve must stop cleanly at cleanup.
func startServer(t testing.TB, srv *Server) string {
	t.Helper()
	pc, ln := listenPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, pc, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})
	addr := pc.LocalAddr().String()
	waitServing(t, addr)
	return addr
}

// listenPair binds UDP and TCP on the same 127.0.0.1 port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no free port for udp and tcp together")
	return nil, nil
}

// waitServing waits until the TCP side accepts (the UDP socket is bound
// already, so queries queue; TCP tells us the servers are running).
func waitServing(t testing.TB, addr string) {
	t.Helper()
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("server on %s not accepting", addr)
}

// client returns a miekg client over network ("udp" or "tcp") whose
// queries come from src.
func client(network string, src netip.Addr, timeout time.Duration) *mdns.Client {
	d := &net.Dialer{Timeout: timeout}
	if network == "tcp" {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	} else {
		d.LocalAddr = &net.UDPAddr{IP: src.AsSlice()}
	}
	return &mdns.Client{Net: network, Dialer: d, Timeout: timeout, UDPSize: mdns.DefaultMsgSize}
}

func query(t testing.TB, c *mdns.Client, addr, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, mdns.Type(qtype), c.Net, err)
	}
	if r.Id != m.Id {
		t.Fatalf("%s: reply id %d, query id %d", name, r.Id, m.Id)
	}
	return r
}

// addrsOf returns the A/AAAA addresses in an answer section.
func addrsOf(m *mdns.Msg) []netip.Addr {
	var out []netip.Addr
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			a, _ := netip.AddrFromSlice(rr.A)
			out = append(out, a.Unmap())
		case *mdns.AAAA:
			a, _ := netip.AddrFromSlice(rr.AAAA)
			out = append(out, a)
		}
	}
	return out
}

// upstream is a fake upstream resolver on 127.0.0.1, UDP and TCP on one
// port, that records the questions it gets.
type upstream struct {
	addr netip.AddrPort

	mu    sync.Mutex
	seen  []seenQuery
	reply func(w mdns.ResponseWriter, r *mdns.Msg) // nil: answer 192.0.2.1 for every A
}

type seenQuery struct {
	Net  string
	Name string
	Type uint16
	Msg  *mdns.Msg
}

func startUpstream(t testing.TB, reply func(w mdns.ResponseWriter, r *mdns.Msg)) *upstream {
	t.Helper()
	u := &upstream{reply: reply}
	pc, ln := listenPair(t)
	u.addr = netip.MustParseAddrPort(pc.LocalAddr().String())
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		u.mu.Lock()
		s := seenQuery{Net: w.LocalAddr().Network(), Msg: r.Copy()}
		if len(r.Question) > 0 {
			s.Name, s.Type = r.Question[0].Name, r.Question[0].Qtype
		}
		u.seen = append(u.seen, s)
		u.mu.Unlock()
		if u.reply != nil {
			u.reply(w, r)
			return
		}
		m := new(mdns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if r.Question[0].Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR(r.Question[0].Name + " 30 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, pc, ln, h) }()
	t.Cleanup(func() { cancel(); <-done })
	waitServing(t, u.addr.String())
	return u
}

func (u *upstream) queries() []seenQuery {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenQuery(nil), u.seen...)
}

// deadAddr returns a 127.0.0.1 UDP address where nothing listens: a query
// there fails at once with "connection refused".
func deadAddr(t testing.TB) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	return ap
}

// blackhole returns a 127.0.0.1 UDP address that reads queries and never
// answers.
func blackhole(t testing.TB) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, _, err := pc.ReadFrom(buf); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// fakeWriter is a ResponseWriter that keeps what is written, for driving
// the handler without sockets.
type fakeWriter struct {
	local, remote net.Addr
	msgs          []*mdns.Msg
	packErr       error
}

func newFakeWriter(src netip.Addr, tcp bool) *fakeWriter {
	if tcp {
		return &fakeWriter{
			local:  &net.TCPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 53},
			remote: &net.TCPAddr{IP: src.AsSlice(), Port: 40000},
		}
	}
	return &fakeWriter{
		local:  &net.UDPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 53},
		remote: &net.UDPAddr{IP: src.AsSlice(), Port: 40000},
	}
}

func (w *fakeWriter) LocalAddr() net.Addr  { return w.local }
func (w *fakeWriter) RemoteAddr() net.Addr { return w.remote }
func (w *fakeWriter) WriteMsg(m *mdns.Msg) error {
	if _, err := m.Pack(); err != nil {
		w.packErr = err
		return err
	}
	w.msgs = append(w.msgs, m)
	return nil
}
func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *fakeWriter) Close() error                { return nil }
func (w *fakeWriter) TsigStatus() error           { return nil }
func (w *fakeWriter) TsigTimersOnly(bool)         {}
func (w *fakeWriter) Hijack()                     {}

// forwarderFunc adapts a function to Forwarder.
type forwarderFunc func(ctx context.Context, r *mdns.Msg) (*mdns.Msg, error)

func (f forwarderFunc) Forward(ctx context.Context, r *mdns.Msg) (*mdns.Msg, error) {
	return f(ctx, r)
}
