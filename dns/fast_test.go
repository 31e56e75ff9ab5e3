package dns

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func packQuery(t testing.TB, name string, qtype uint16, edit func(m *mdns.Msg)) []byte {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	if edit != nil {
		edit(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("packing %s: %v", name, err)
	}
	return b
}

// longName is a name of exactly wire bytes on the wire (root included).
func longName(wire int) string {
	var labels []string
	left := wire - 1 // the root
	for left > 0 {
		l := min(maxLabel, left-1)
		labels = append(labels, strings.Repeat("a", l))
		left -= l + 1
	}
	return strings.Join(labels, ".") + "."
}

func TestParseQuery(t *testing.T) {
	var nb [maxNameText]byte
	plain := packQuery(t, "Web.Front.", mdns.TypeAAAA, nil)
	q, ok := parseQuery(plain, &nb)
	if !ok || string(q.name) != "web.front" || q.qtype != mdns.TypeAAAA || q.qclass != mdns.ClassINET ||
		q.edns || q.end != len(plain) || q.flags&flagRD == 0 {
		t.Fatalf("plain query: %+v %v", q, ok)
	}
	withOPT := packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(4096, true) })
	q, ok = parseQuery(withOPT, &nb)
	if !ok || !q.edns || q.udpSize != 4096 || !q.do || q.end != len(withOPT)-optLen || q.udpLimit() != 4096 {
		t.Fatalf("query with OPT: %+v %v", q, ok)
	}
	for _, size := range []struct{ in, want int }{{0, 512}, {100, 512}, {1232, 1232}, {65535, 4096}} {
		b := packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(uint16(size.in), false) })
		if q, ok := parseQuery(b, &nb); !ok || q.udpLimit() != size.want || q.do {
			t.Errorf("EDNS0 size %d: limit %d ok %v, want %d", size.in, q.udpLimit(), ok, size.want)
		}
	}
	if q, ok := parseQuery(packQuery(t, longName(255), mdns.TypeA, nil), &nb); !ok || len(q.name) != maxNameText {
		t.Errorf("a 255-byte name: ok %v, %d characters", ok, len(q.name))
	}
	if q, ok := parseQuery(packQuery(t, "a_b-C9.", mdns.TypeA, nil), &nb); !ok || string(q.name) != "a_b-c9" {
		t.Errorf("a_b-C9: %q %v", q.name, ok)
	}

	set16 := func(b []byte, off int, v uint16) []byte {
		b = slices.Clone(b)
		binary.BigEndian.PutUint16(b[off:], v)
		return b
	}
	web := packQuery(t, "web.", mdns.TypeA, nil) // 12 + 5 (name) + 4
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"short header", web[:11]},
		{"header only", web[:12]},
		{"name cut", web[:14]},
		{"no type and class", web[:17]},
		{"class cut", web[:20]},
		{"trailing byte", append(slices.Clone(web), 0)},
		{"response", set16(web, 2, 0x8100)},
		{"opcode NOTIFY", set16(web, 2, uint16(mdns.OpcodeNotify)<<11)},
		{"opcode 15", set16(web, 2, 0x7800)},
		{"no question", set16(web, 4, 0)},
		{"two questions", set16(web, 4, 2)},
		{"an answer", set16(web, 6, 1)},
		{"an authority record", set16(web, 8, 1)},
		{"two additional records", set16(web, 10, 2)},
		{"additional record missing", set16(web, 10, 1)},
		{"root name", packQuery(t, ".", mdns.TypeA, nil)},
		{"compressed name", append(slices.Clone(web[:12]), 0xc0, 12, 0, 1, 0, 1)},
		{"label 64", append(append(slices.Clone(web[:12]), 64), make([]byte, 70)...)},
		{"dot inside a label", packQuery(t, `a\.b.`, mdns.TypeA, nil)},
		{"space", packQuery(t, `a\ b.`, mdns.TypeA, nil)},
		{"star", packQuery(t, "*.web.", mdns.TypeA, nil)},
		{"byte 0xff", packQuery(t, `a\255.`, mdns.TypeA, nil)},
		{"EDNS version 1", packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) })},
		{"EDNS option", packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
		})},
		{"OPT with a name", packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().Hdr.Name = "web." })},
		{"additional A instead of OPT", packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) {
			rr, _ := mdns.NewRR("web. 60 IN A 10.0.0.1")
			m.Extra = append(m.Extra, rr)
		})},
	} {
		if q, ok := parseQuery(tc.msg, &nb); ok {
			t.Errorf("%s: parsed as %+v", tc.name, q)
		}
	}
	// A name of 257 bytes on the wire: miekg/dns refuses to pack it, so
	// write it by hand.
	long := append(slices.Clone(web[:12]), packName(longName(255))...)
	long = append(long[:len(long)-1], 1, 'x', 0, 0, 1, 0, 1)
	if _, ok := parseQuery(long, &nb); ok {
		t.Error("a 256-byte name parsed")
	}
	if err := new(mdns.Msg).Unpack(long); err == nil {
		t.Error("miekg/dns unpacks the 256-byte name: the fast path's limit no longer matches")
	}
}

// packName writes name (dotted, with the root's dot) in wire form.
func packName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(append(b, byte(len(l))), l...)
	}
	return append(b, 0)
}

// Every prefix and every one-byte change of good queries: no panic, and a
// prefix never parses.
func TestParseQueryMangled(t *testing.T) {
	var nb [maxNameText]byte
	for _, good := range [][]byte{
		packQuery(t, "web.front.", mdns.TypeA, nil),
		packQuery(t, "WWW.", mdns.TypeANY, func(m *mdns.Msg) { m.SetEdns0(1232, true) }),
	} {
		for i := range good {
			if _, ok := parseQuery(good[:i], &nb); ok {
				t.Errorf("the %d-byte prefix of %x parsed", i, good)
			}
			for _, v := range []byte{0, 1, 0x3f, 0x40, 0x7f, 0xc0, 0xff} {
				b := slices.Clone(good)
				b[i] = v
				parseQuery(b, &nb)
			}
		}
	}
}

// handlerUDPReply is ServeDNS's reply to msg from src over UDP, packed as
// miekg/dns's server packs it; nil when it gives none.
func handlerUDPReply(t testing.TB, h *Handler, src netip.Addr, msg []byte) []byte {
	t.Helper()
	r := new(mdns.Msg)
	if err := r.Unpack(msg); err != nil {
		t.Fatalf("the fast path answered %x, which miekg/dns cannot unpack: %v", msg, err)
	}
	w := newFakeWriter(src, false)
	h.ServeDNS(w, r)
	if len(w.msgs) == 0 {
		return nil
	}
	b, err := w.msgs[0].Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unrotated sorts the address records of a reply (each type's records
// among themselves, in place), so that two replies that differ only by
// their rotation compare equal. A reply it cannot walk is returned as is.
func unrotated(b []byte, qend int) []byte {
	an := int(binary.BigEndian.Uint16(b[6:]))
	var groups [][][]byte
	var lastType uint16
	off := qend
	for range an {
		if off+12 > len(b) {
			return b
		}
		typ, rdlen := binary.BigEndian.Uint16(b[off+2:]), int(binary.BigEndian.Uint16(b[off+10:]))
		end := off + 12 + rdlen
		if end > len(b) {
			return b
		}
		if len(groups) == 0 || typ != lastType {
			groups = append(groups, nil)
			lastType = typ
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], b[off:end])
		off = end
	}
	out := slices.Clone(b[:qend])
	for _, g := range groups {
		slices.SortFunc(g, bytes.Compare)
		for _, rr := range g {
			out = append(out, rr...)
		}
	}
	return append(out, b[off:]...)
}

// checkFast answers msg from src with the fast path; when it answers, the
// bytes must be the Handler's. It reports whether the fast path answered.
func checkFast(t testing.TB, h *Handler, src netip.Addr, msg []byte) bool {
	t.Helper()
	w := newFakeWriter(src, false)
	scope, ok := h.ScopeOf(w)
	if !ok {
		return false
	}
	var nb [maxNameText]byte
	q, ok := parseQuery(msg, &nb)
	if !ok {
		return false
	}
	out := make([]byte, fastReplySize)
	n, ok := h.answerFast(scope, &q, msg, out)
	if !ok {
		return false
	}
	fast, want := out[:n], handlerUDPReply(t, h, src, msg)
	if !bytes.Equal(unrotated(fast, q.end), unrotated(want, q.end)) {
		t.Fatalf("query %x from %s:\nfast path %x\nHandler   %x", msg, src, fast, want)
	}
	return true
}

func TestFastPathMatchesHandler(t *testing.T) {
	tb := testTable()
	for i := range 3 { // a name with several addresses of each family
		tb.Set("front", fmt.Sprint("ep-svc", i), []string{"svc"},
			netip.AddrFrom4([4]byte{10, 1, 9, byte(i + 1)}), netip.AddrFrom16([16]byte{0xfd, 0, 1, 15: byte(i + 1)}))
	}
	h := &Handler{Table: tb, ScopeOf: testScopeOf}
	var answered, total int
	for _, src := range []netip.Addr{srcFront, srcBack, srcInternal, srcBoth} {
		for _, name := range []string{"web.", "WeB.", "www.", "0123456789AB.", "web.front.", "web.back.", "WEB.FRONT.",
			"api.", "db.", "secret.", "svc.", "svc.front.", "nothere.", "example.com.", "2.0.1.10.in-addr.arpa.", "web.front.extra."} {
			for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeANY, mdns.TypeMX, mdns.TypeTXT, mdns.TypePTR,
				mdns.TypeSRV, mdns.TypeCNAME, mdns.TypeOPT, mdns.TypeAXFR, mdns.TypeIXFR, 0, 65535} {
				for _, edit := range []func(m *mdns.Msg){
					nil,
					func(m *mdns.Msg) { m.RecursionDesired = false },
					func(m *mdns.Msg) { m.CheckingDisabled, m.AuthenticatedData, m.Zero = true, true, true },
					func(m *mdns.Msg) { m.Authoritative, m.Truncated, m.RecursionAvailable, m.Rcode = true, true, true, 5 },
					func(m *mdns.Msg) { m.SetEdns0(4096, true) },
					func(m *mdns.Msg) { m.SetEdns0(100, false) },
					func(m *mdns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetZ(0x7fff) },
					func(m *mdns.Msg) { m.SetEdns0(1232, true); m.IsEdns0().SetExtendedRcode(mdns.RcodeBadVers) },
					func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS },
					func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassANY },
				} {
					msg := packQuery(t, name, qtype, edit)
					total++
					if checkFast(t, h, src, msg) {
						answered++
					}
				}
			}
		}
	}
	t.Logf("the fast path answered %d of %d queries, each as the Handler does", answered, total)
	// The ones it must answer: the common query and its EDNS0 form.
	for _, tc := range []struct {
		src  netip.Addr
		name string
		edit func(m *mdns.Msg)
	}{
		{srcFront, "web.", nil},
		{srcFront, "SVC.", nil},
		{srcBack, "web.", func(m *mdns.Msg) { m.SetEdns0(1232, true) }},
		{srcInternal, "secret.", nil},
		{srcBoth, "db.back.", nil},
	} {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeANY, mdns.TypeMX} {
			if !checkFast(t, h, tc.src, packQuery(t, tc.name, qtype, tc.edit)) {
				t.Errorf("%s %s from %s: not answered by the fast path", tc.name, mdns.Type(qtype), tc.src)
			}
		}
	}
}

func TestFastPathRotates(t *testing.T) {
	tb := NewTable()
	for i := range 4 {
		tb.Set("front", fmt.Sprint("ep", i), []string{"svc"}, netip.AddrFrom4([4]byte{10, 1, 1, byte(i)}), netip.Addr{})
	}
	h := &Handler{Table: tb, ScopeOf: testScopeOf}
	msg := packQuery(t, "svc.", mdns.TypeA, nil)
	var nb [maxNameText]byte
	q, _ := parseQuery(msg, &nb)
	firsts := map[byte]bool{}
	for range 200 {
		out := make([]byte, fastReplySize)
		n, ok := h.answerFast(Scope{Networks: []string{"front"}}, &q, msg, out)
		if !ok || binary.BigEndian.Uint16(out[6:]) != 4 {
			t.Fatalf("svc: ok %v, reply %x", ok, out[:n])
		}
		firsts[out[q.end+15]] = true // the last byte of the first address
	}
	if len(firsts) < 2 {
		t.Errorf("the first address never changes over 200 answers: %v", firsts)
	}
}

// What the fast path must leave to the Handler.
func TestFastPathDeclines(t *testing.T) {
	tb := testTable()
	for i := range 40 {
		tb.Set("front", fmt.Sprint("ep-many", i), []string{"many"}, netip.AddrFrom4([4]byte{10, 1, 8, byte(i)}), netip.Addr{})
	}
	h := &Handler{Table: tb, ScopeOf: testScopeOf}
	scope := Scope{Networks: []string{"front"}}
	for _, tc := range []struct {
		why string
		msg []byte
	}{
		{"not in the table: forwarded", packQuery(t, "example.com.", mdns.TypeA, nil)},
		{"on another network: forwarded", packQuery(t, "db.", mdns.TypeA, nil)},
		{"a reverse name", packQuery(t, "2.0.1.10.in-addr.arpa.", mdns.TypePTR, nil)},
		{"a zone transfer", packQuery(t, "web.", mdns.TypeAXFR, nil)},
		{"an incremental one", packQuery(t, "web.", mdns.TypeIXFR, nil)},
		{"class CHAOS", packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS })},
		{"40 addresses without EDNS0: truncated", packQuery(t, "many.", mdns.TypeA, nil)},
		{"40 addresses in 4096 bytes: more than the fast path's buffer", packQuery(t, "many.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(4096, false) })},
	} {
		var nb [maxNameText]byte
		q, ok := parseQuery(tc.msg, &nb)
		if !ok {
			t.Errorf("%s: not parsed", tc.why)
			continue
		}
		if n, ok := h.answerFast(scope, &q, tc.msg, make([]byte, fastReplySize)); ok {
			t.Errorf("%s: answered by the fast path (%d bytes)", tc.why, n)
		}
	}
	var nb [maxNameText]byte
	msg := packQuery(t, "web.", mdns.TypeA, nil)
	q, _ := parseQuery(msg, &nb)
	if _, ok := (&Handler{ScopeOf: testScopeOf}).answerFast(scope, &q, msg, make([]byte, fastReplySize)); ok {
		t.Error("answered with no table")
	}
	if _, ok := h.answerFast(scope, &q, msg, make([]byte, q.end+rrALen-1)); ok {
		t.Error("answered into a buffer too small")
	}
}

// recordConn is a net.PacketConn that keeps what is written to it.
type recordConn struct {
	net.PacketConn // nil: only the methods below are used
	mu             sync.Mutex
	sent           []sentPacket
}

type sentPacket struct {
	to  netip.AddrPort
	msg []byte
}

func (c *recordConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ap, _ := addrPort(addr)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, sentPacket{ap, slices.Clone(b)})
	return len(b), nil
}

func (c *recordConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 53}
}

// serveOne runs msg from src through a udpServer's per-datagram logic, with
// no socket: the reply it writes in the loop, and what the Handler wrote
// from its own goroutine.
func serveOne(h mdns.Handler, src netip.Addr, msg []byte) (reply []byte, handedOver []sentPacket) {
	rc := &recordConn{}
	s := &udpServer{pc: rc, h: h, local: rc.LocalAddr()}
	s.fast, _ = h.(*Handler)
	s.scopeW = &udpWriter{pc: rc, local: s.local, remote: &net.UDPAddr{}}
	b := getBatch()
	defer putBatch(b)
	n := copy(b.in[0][:], msg)
	b.pkts[0] = packet{n: n, from: netip.AddrPortFrom(src, 40000)}
	s.handle(b, 0)
	s.slow.Wait()
	if b.pkts[0].reply > 0 {
		reply = slices.Clone(b.out[0][:b.pkts[0].reply])
	}
	return reply, rc.sent
}

func TestUDPServerScope(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf}
	queries := append(garbage(), packQuery(t, "web.", mdns.TypeA, nil), packQuery(t, "example.com.", mdns.TypeA, nil))
	for _, m := range strangeQueries() {
		b, _ := m.Pack()
		queries = append(queries, b)
	}
	for _, msg := range queries {
		if reply, slow := serveOne(h, srcStranger, msg); reply != nil || len(slow) != 0 {
			t.Errorf("a stranger's %x: answered %x, handed over %v", msg, reply, slow)
		}
		if reply, slow := serveOne(&Handler{Table: testTable()}, srcFront, msg); reply != nil || len(slow) != 0 {
			t.Errorf("no ScopeOf, %x: answered %x, handed over %v", msg, reply, slow)
		}
	}

	// The same client in scope: the common query in the loop, the rest by
	// the Handler, garbage answered FORMERR as miekg/dns's server does.
	if reply, slow := serveOne(h, srcFront, packQuery(t, "web.", mdns.TypeA, nil)); reply == nil || len(slow) != 0 {
		t.Errorf("web A from front: loop reply %x, handed over %v", reply, slow)
	}
	if reply, slow := serveOne(h, srcFront, packQuery(t, "2.0.1.10.in-addr.arpa.", mdns.TypePTR, nil)); reply != nil || len(slow) != 1 {
		t.Errorf("PTR from front: loop reply %x, handed over %v", reply, slow)
	}
	cut := packQuery(t, "web.", mdns.TypeA, nil)
	cut = cut[:len(cut)-1]
	reply, slow := serveOne(h, srcFront, cut)
	if reply != nil || len(slow) != 1 {
		t.Fatalf("a cut query from front: loop reply %x, handed over %v", reply, slow)
	}
	r := new(mdns.Msg)
	if err := r.Unpack(slow[0].msg); err != nil || r.Rcode != mdns.RcodeFormatError || !r.Response ||
		r.Id != binary.BigEndian.Uint16(cut) || slow[0].to != netip.AddrPortFrom(srcFront, 40000) {
		t.Errorf("a cut query: reply %v to %s (%v), want FORMERR to the sender", r, slow[0].to, err)
	}
	// Responses and scraps are dropped even from clients in scope.
	resp := packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) { m.Response = true })
	for _, msg := range [][]byte{resp, resp[:12], {1, 2, 3}} {
		if reply, slow := serveOne(h, srcFront, msg); reply != nil || len(slow) != 0 {
			t.Errorf("%x: answered %x, handed over %v", msg, reply, slow)
		}
	}
}

// Queries from a client in scope and from a stranger, sent without waiting
// so that they arrive in the same batches: the client gets every answer,
// the stranger none.
func TestUDPBatchOfMixedClients(t *testing.T) {
	addr := startServer(t, &Server{Handler: &Handler{Table: testTable(), ScopeOf: testScopeOf}})
	dial := func(src netip.Addr) *net.UDPConn {
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	front, stranger := dial(srcFront), dial(srcStranger)
	const n = 64 // 2n datagrams fit the server's default socket buffer
	for i := range n {
		msg := packQuery(t, "web.", mdns.TypeA, func(m *mdns.Msg) { m.Id = uint16(i) })
		if _, err := front.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := stranger.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]bool{}
	buf := make([]byte, 512)
	for len(seen) < n {
		_ = front.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := front.Read(buf)
		if err != nil {
			break
		}
		r := new(mdns.Msg)
		if err := r.Unpack(buf[:k]); err != nil || !slices.Equal(addrsOf(r), []netip.Addr{webV4}) {
			t.Fatalf("reply %x: %v %v", buf[:k], r, err)
		}
		seen[r.Id] = true
	}
	if len(seen) != n {
		t.Errorf("%d of %d queries answered", len(seen), n)
	}
	_ = stranger.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if k, err := stranger.Read(buf); err == nil {
		t.Errorf("the stranger got %x", buf[:k])
	}
}

// The loop reads and answers IPv6 senders too (AF_INET6 addresses in
// recvmmsg and sendmmsg), and ScopeOf sees their address.
func TestUDPOverIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	var mu sync.Mutex
	var seen []netip.AddrPort
	h := &Handler{Table: testTable(), ScopeOf: func(w mdns.ResponseWriter) (Scope, bool) {
		ap, ok := RemoteAddrPort(w)
		mu.Lock()
		seen = append(seen, ap)
		mu.Unlock()
		return Scope{Networks: []string{"front"}}, ok && ap.Addr() == netip.IPv6Loopback()
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, pc, nil, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	c := client("udp", netip.IPv6Loopback(), 2*time.Second)
	r := query(t, c, pc.LocalAddr().String(), "web.", mdns.TypeAAAA)
	if !slices.Equal(addrsOf(r), []netip.Addr{webV6}) {
		t.Errorf("web AAAA over IPv6: %v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0].Addr() != netip.IPv6Loopback() || seen[0].Port() == 0 {
		t.Errorf("ScopeOf saw %v, want ::1 and a port", seen)
	}
}
