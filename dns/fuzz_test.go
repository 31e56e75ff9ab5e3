package dns

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

// FuzzHandler feeds arbitrary bytes to the handler as a query, from every
// kind of client, over UDP and TCP; the same bytes also serve as the
// upstream's answer, so relaying arbitrary upstream messages is fuzzed too.
// The handler must not panic, must write at most one reply, must never
// answer a stranger or a response, and a UDP reply must fit the client's
// size.
func FuzzHandler(f *testing.F) {
	for _, m := range fuzzSeeds() {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(0xff))
	}
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, uint8(2))

	tb := testTable()
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		r := new(mdns.Msg)
		if err := r.Unpack(data); err != nil {
			return // miekg/dns's server never hands these to a handler
		}
		src := []netip.Addr{srcFront, srcBack, srcInternal, srcBoth, srcStranger}[int(sel)%5]
		tcp := sel&0x08 != 0
		forwarded := false
		h := &Handler{Table: tb, ScopeOf: testScopeOf}
		if sel&0x10 == 0 {
			h.Forwarder = forwarderFunc(func(_ context.Context, q *mdns.Msg) (*mdns.Msg, error) {
				forwarded = true
				if sel&0x20 != 0 {
					return nil, errors.New("upstream down")
				}
				resp := new(mdns.Msg)
				if err := resp.Unpack(data); err != nil {
					t.Fatalf("unpacks once, not twice: %v", err)
				}
				return resp, nil
			})
		}
		w := newFakeWriter(src, tcp)
		h.ServeDNS(w, r)

		written := len(w.msgs)
		if w.packErr != nil {
			written++
		}
		switch {
		case written > 1:
			t.Fatalf("%d replies to one query", written)
		case written == 1 && (src == srcStranger || r.Response):
			t.Fatalf("answered a stranger or a response: %v", w.msgs)
		case (src == srcInternal || h.Forwarder == nil) && forwarded:
			t.Fatal("forwarded for an internal client or without a forwarder")
		case w.packErr != nil && !forwarded:
			t.Fatalf("own reply does not pack: %v", w.packErr)
		}
		if len(w.msgs) == 0 {
			return
		}
		reply := w.msgs[0]
		if reply.Id != r.Id || !reply.Response {
			t.Fatalf("reply id %d response %v to query id %d", reply.Id, reply.Response, r.Id)
		}
		if !tcp {
			opt, _ := ednsOf(r)
			b, err := reply.Pack()
			if err != nil {
				t.Fatalf("packed once, not twice: %v", err)
			}
			if limit := responseLimit(opt, false); len(b) > limit && reply.IsTsig() == nil {
				t.Fatalf("%d-byte UDP reply, client takes %d", len(b), limit)
			}
		}
	})
}

func fuzzSeeds() []*mdns.Msg {
	var out []*mdns.Msg
	add := func(name string, qtype uint16, edit func(m *mdns.Msg)) {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		if edit != nil {
			edit(m)
		}
		out = append(out, m)
	}
	edns := func(m *mdns.Msg) { m.SetEdns0(4096, true) }
	add("web.", mdns.TypeA, nil)
	add("WWW.", mdns.TypeAAAA, edns)
	add("api.", mdns.TypeAAAA, nil)
	add("web.front.", mdns.TypeANY, nil)
	add("web.", mdns.TypeMX, nil)
	add("2.0.1.10.in-addr.arpa.", mdns.TypePTR, nil)
	add("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa.", mdns.TypePTR, edns)
	add("example.com.", mdns.TypeA, edns)
	add("secret.", mdns.TypeA, nil)
	add("web.", mdns.TypeAXFR, nil)
	add("web.", mdns.TypeA, func(m *mdns.Msg) { m.Opcode = mdns.OpcodeUpdate })
	add("web.", mdns.TypeA, func(m *mdns.Msg) { m.Response = true })
	add("web.", mdns.TypeA, func(m *mdns.Msg) { m.Question = append(m.Question, m.Question[0]) })
	add("web.", mdns.TypeA, func(m *mdns.Msg) { m.Question = nil })
	add("web.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(3) })
	add("web.", mdns.TypeA, func(m *mdns.Msg) { m.SetEdns0(1232, false); m.SetEdns0(512, true) })
	add("web.", mdns.TypeA, func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS })
	add("big.example.", mdns.TypeA, func(m *mdns.Msg) {
		// An upstream-like answer large enough to need truncation.
		m.Response = true
		for i := range 80 {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: "big.example.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
				A:   netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).AsSlice(),
			})
		}
	})
	return out
}

// FuzzFastPath feeds arbitrary bytes to the UDP loop's per-datagram logic
// (udpServer.handle: scoping, parseQuery, answerFast, the hand-over to the
// Handler) from every kind of client. It must not panic; a stranger gets
// nothing; whatever parseQuery accepts miekg/dns unpacks to the same
// question; and every reply the fast path writes is, byte for byte (up to
// the rotation of addresses), the one ServeDNS gives.
func FuzzFastPath(f *testing.F) {
	for _, m := range fuzzSeeds() {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		for _, sel := range []uint8{0, 1, 2, 3, 4} {
			f.Add(b, sel)
		}
	}
	for _, g := range garbage() {
		f.Add(g, uint8(0))
	}

	tb := testTable()
	tb.Set("front", "ep-svc1", []string{"svc"}, netip.MustParseAddr("10.1.9.1"), netip.MustParseAddr("fd00:1::91"))
	tb.Set("front", "ep-svc2", []string{"svc"}, netip.MustParseAddr("10.1.9.2"), netip.Addr{})
	h := &Handler{Table: tb, ScopeOf: testScopeOf}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		src := []netip.Addr{srcFront, srcBack, srcInternal, srcBoth, srcStranger}[int(sel)%5]
		var nb [maxNameText]byte
		if q, ok := parseQuery(data, &nb); ok {
			r := new(mdns.Msg)
			if err := r.Unpack(data); err != nil {
				t.Fatalf("parseQuery accepts what miekg/dns does not unpack: %v", err)
			}
			if len(r.Question) != 1 || canonicalName(r.Question[0].Name) != string(q.name) ||
				r.Question[0].Qtype != q.qtype || r.Question[0].Qclass != q.qclass {
				t.Fatalf("parseQuery read %q %d %d, miekg/dns %v", q.name, q.qtype, q.qclass, r.Question)
			}
			if opt := r.IsEdns0(); (opt != nil) != q.edns || (opt != nil && (opt.UDPSize() != q.udpSize || opt.Do() != q.do)) {
				t.Fatalf("parseQuery read EDNS0 %v %d %v, miekg/dns %v", q.edns, q.udpSize, q.do, opt)
			}
		}
		// No Forwarder: what is handed over is answered at once.
		reply, slow := serveOne(h, src, data)
		if src == srcStranger && (reply != nil || len(slow) != 0) {
			t.Fatalf("answered a stranger: %x %v", reply, slow)
		}
		if reply != nil {
			if len(slow) != 0 {
				t.Fatalf("answered in the loop and handed over")
			}
			var q fastQuery
			q, _ = parseQuery(data, &nb)
			if len(reply) > q.udpLimit() {
				t.Fatalf("%d-byte reply, client takes %d", len(reply), q.udpLimit())
			}
			want := handlerUDPReply(t, h, src, data)
			if !bytes.Equal(unrotated(reply, q.end), unrotated(want, q.end)) {
				t.Fatalf("fast path %x\nHandler   %x", reply, want)
			}
		}
		if len(slow) > 1 {
			t.Fatalf("%d replies to one datagram", len(slow))
		}
	})
}
