package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// serverWithUpstream starts the handler over testTable with an
// UpstreamForwarder to a fake upstream, and returns both addresses.
func serverWithUpstream(t *testing.T) (string, *upstream) {
	t.Helper()
	up := startUpstream(t, nil)
	h := &Handler{
		Table:     testTable(),
		ScopeOf:   testScopeOf,
		Forwarder: &UpstreamForwarder{Servers: []netip.AddrPort{up.addr}, Timeout: time.Second},
	}
	return startServer(t, &Server{Handler: h}), up
}

func TestNamesAliasesShortID(t *testing.T) {
	addr, up := serverWithUpstream(t)
	for _, network := range []string{"udp", "tcp"} {
		c := client(network, srcFront, 2*time.Second)
		for _, tc := range []struct {
			name  string
			qtype uint16
			want  []netip.Addr
		}{
			{"web.", mdns.TypeA, []netip.Addr{webV4}},
			{"web.", mdns.TypeAAAA, []netip.Addr{webV6}},
			{"web.", mdns.TypeANY, []netip.Addr{webV4, webV6}},
			{"www.", mdns.TypeA, []netip.Addr{webV4}},          // alias
			{"0123456789ab.", mdns.TypeA, []netip.Addr{webV4}}, // short id
			{"WeB.", mdns.TypeA, []netip.Addr{webV4}},          // case
			{"0123456789AB.", mdns.TypeAAAA, []netip.Addr{webV6}},
			{"web.front.", mdns.TypeA, []netip.Addr{webV4}}, // name.network
			{"api.", mdns.TypeA, []netip.Addr{apiV4}},
		} {
			r := query(t, c, addr, tc.name, tc.qtype)
			if r.Rcode != mdns.RcodeSuccess || !slices.Equal(addrsOf(r), tc.want) {
				t.Errorf("%s %s %s: %s %v, want NOERROR %v", network, tc.name, mdns.Type(tc.qtype), mdns.RcodeToString[r.Rcode], addrsOf(r), tc.want)
				continue
			}
			if r.Authoritative || !r.RecursionAvailable {
				t.Errorf("%s: AA=%v RA=%v, want AA=false RA=true (as Docker)", tc.name, r.Authoritative, r.RecursionAvailable)
			}
			for _, rr := range r.Answer {
				if h := rr.Header(); h.Ttl != RecordTTL || h.Name != tc.name {
					t.Errorf("%s: answer %q, want TTL %d and the name as asked", tc.name, rr, RecordTTL)
				}
			}
			if len(r.Question) != 1 || r.Question[0].Name != tc.name {
				t.Errorf("%s: question not echoed: %v", tc.name, r.Question)
			}
		}
	}
	if q := up.queries(); len(q) != 0 {
		t.Errorf("names in scope were forwarded: %v", q)
	}
}

func TestNODATAForNameWithoutThatType(t *testing.T) {
	addr, up := serverWithUpstream(t)
	c := client("udp", srcFront, 2*time.Second)
	for _, tc := range []struct {
		name  string
		qtype uint16
	}{
		{"api.", mdns.TypeAAAA}, // IPv4 only
		{"web.", mdns.TypeMX},
		{"web.", mdns.TypeTXT},
		{"web.", mdns.TypeSRV},
		{"www.", mdns.TypePTR},
	} {
		r := query(t, c, addr, tc.name, tc.qtype)
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("%s %s: %s with %d answers, want NODATA (NOERROR, none)", tc.name, mdns.Type(tc.qtype), mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	if q := up.queries(); len(q) != 0 {
		t.Errorf("a name in scope was forwarded: %v", q)
	}
}

func TestPTR(t *testing.T) {
	addr, up := serverWithUpstream(t)
	rev := func(ip netip.Addr) string {
		s, err := mdns.ReverseAddr(ip.String())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		src  netip.Addr
		ip   netip.Addr
		want string
	}{
		{srcFront, webV4, "web.front."},
		{srcFront, webV6, "web.front."},
		{srcBack, webBack, "web.back."},
		{srcBack, dbV4, "db.back."},
		{srcBoth, dbV4, "db.back."},
	} {
		c := client("udp", tc.src, 2*time.Second)
		r := query(t, c, addr, rev(tc.ip), mdns.TypePTR)
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
			t.Errorf("PTR %s from %s: %s %v", tc.ip, tc.src, mdns.RcodeToString[r.Rcode], r.Answer)
			continue
		}
		if p, ok := r.Answer[0].(*mdns.PTR); !ok || p.Ptr != tc.want || p.Hdr.Ttl != RecordTTL {
			t.Errorf("PTR %s from %s = %v, want %s", tc.ip, tc.src, r.Answer[0], tc.want)
		}
	}
	if q := up.queries(); len(q) != 0 {
		t.Errorf("PTR in scope forwarded: %v", q)
	}

	// An address outside the client's scope is not ours: forwarded...
	r := query(t, client("udp", srcFront, 2*time.Second), addr, rev(dbV4), mdns.TypePTR)
	if len(r.Answer) != 0 {
		t.Errorf("PTR for back's %s answered to a front client: %v", dbV4, r.Answer)
	}
	if q := up.queries(); len(q) != 1 || q[0].Name != rev(dbV4) {
		t.Errorf("upstream saw %v, want the PTR query for %s", q, dbV4)
	}
	// ... or NXDOMAIN for an internal client.
	r = query(t, client("udp", srcInternal, 2*time.Second), addr, rev(webV4), mdns.TypePTR)
	if r.Rcode != mdns.RcodeNameError {
		t.Errorf("internal PTR for %s: %s, want NXDOMAIN", webV4, mdns.RcodeToString[r.Rcode])
	}
}

func TestScopeHidesOtherNetworks(t *testing.T) {
	addr, up := serverWithUpstream(t)
	back := client("udp", srcBack, 2*time.Second)

	// "api" is only on front: a back client must not get its address. It is
	// not ours for that client, so it goes upstream (which says 192.0.2.1).
	r := query(t, back, addr, "api.", mdns.TypeA)
	if got := addrsOf(r); slices.Contains(got, apiV4) || !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.1")}) {
		t.Errorf("back client: api = %v, want only the upstream's 192.0.2.1", got)
	}
	r = query(t, back, addr, "api.front.", mdns.TypeA)
	if slices.Contains(addrsOf(r), apiV4) {
		t.Errorf("back client resolved api.front to %v", addrsOf(r))
	}
	if q := up.queries(); len(q) != 2 {
		t.Errorf("upstream saw %d queries, want 2", len(q))
	}

	// "web" exists on both: each client gets its own network's address, and
	// a client on both gets the first network's.
	for _, tc := range []struct {
		src  netip.Addr
		want netip.Addr
	}{{srcFront, webV4}, {srcBack, webBack}, {srcBoth, webV4}} {
		r := query(t, client("udp", tc.src, 2*time.Second), addr, "web.", mdns.TypeA)
		if got := addrsOf(r); !slices.Equal(got, []netip.Addr{tc.want}) {
			t.Errorf("web from %s = %v, want %s", tc.src, got, tc.want)
		}
	}
	if got := addrsOf(query(t, client("udp", srcBoth, 2*time.Second), addr, "db.", mdns.TypeA)); !slices.Equal(got, []netip.Addr{dbV4}) {
		t.Errorf("db from a client on both = %v", got)
	}
}

func TestInternalNeverForwards(t *testing.T) {
	addr, up := serverWithUpstream(t)
	for _, network := range []string{"udp", "tcp"} {
		c := client(network, srcInternal, 2*time.Second)
		if got := addrsOf(query(t, c, addr, "secret.", mdns.TypeA)); !slices.Equal(got, []netip.Addr{secretV4}) {
			t.Errorf("%s: secret = %v", network, got)
		}
		for _, name := range []string{"example.com.", "web.", "singlelabel.", "secret.example.com."} {
			for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeMX, mdns.TypeTXT} {
				r := query(t, c, addr, name, qtype)
				if r.Rcode != mdns.RcodeNameError || len(r.Answer) != 0 {
					t.Errorf("%s internal %s %s: %s %v, want NXDOMAIN", network, name, mdns.Type(qtype), mdns.RcodeToString[r.Rcode], r.Answer)
				}
			}
		}
	}
	if q := up.queries(); len(q) != 0 {
		t.Errorf("internal client's queries reached the upstream: %v", q)
	}
}

func TestNoForwarderIsSERVFAIL(t *testing.T) {
	addr := startServer(t, &Server{Handler: &Handler{Table: testTable(), ScopeOf: testScopeOf}})
	c := client("udp", srcFront, 2*time.Second)
	if r := query(t, c, addr, "example.com.", mdns.TypeA); r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("no forwarder: %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
	if got := addrsOf(query(t, c, addr, "web.", mdns.TypeA)); !slices.Equal(got, []netip.Addr{webV4}) {
		t.Errorf("web = %v", got)
	}
}

func TestStrangerGetsNoAnswer(t *testing.T) {
	addr, up := serverWithUpstream(t)
	for _, network := range []string{"udp", "tcp"} {
		c := client(network, srcStranger, 200*time.Millisecond)
		for _, m := range strangeQueries() {
			if r, _, err := c.Exchange(m, addr); err == nil {
				t.Errorf("%s: stranger got an answer to %v: %v", network, m.Question, r)
			}
		}
	}
	if q := up.queries(); len(q) != 0 {
		t.Errorf("a stranger's queries reached the upstream: %v", q)
	}
	// The same queries from a client in scope are answered.
	c := client("udp", srcFront, 2*time.Second)
	for _, m := range strangeQueries() {
		if _, _, err := c.Exchange(m, addr); err != nil {
			t.Errorf("client in scope: %v: %v", m.Question, err)
		}
	}
}

// strangeQueries are queries of every kind the handler treats differently.
func strangeQueries() []*mdns.Msg {
	var out []*mdns.Msg
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"web.", mdns.TypeA}, {"example.com.", mdns.TypeA}, {"2.0.1.10.in-addr.arpa.", mdns.TypePTR}} {
		m := new(mdns.Msg)
		m.SetQuestion(q.name, q.qtype)
		out = append(out, m)
	}
	two := new(mdns.Msg)
	two.SetQuestion("web.", mdns.TypeA)
	two.Question = append(two.Question, mdns.Question{Name: "www.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
	upd := new(mdns.Msg)
	upd.SetUpdate("front.")
	return append(out, two, upd)
}

func TestMalformedQueries(t *testing.T) {
	addr, up := serverWithUpstream(t)
	c := client("udp", srcFront, 2*time.Second)
	exchange := func(m *mdns.Msg) *mdns.Msg {
		t.Helper()
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		return r
	}

	two := new(mdns.Msg)
	two.SetQuestion("web.", mdns.TypeA)
	two.Question = append(two.Question, mdns.Question{Name: "www.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
	if r := exchange(two); r.Rcode != mdns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", mdns.RcodeToString[r.Rcode])
	}

	none := new(mdns.Msg)
	none.Id = mdns.Id()
	if r := exchange(none); r.Rcode != mdns.RcodeFormatError {
		t.Errorf("no question: %s, want FORMERR", mdns.RcodeToString[r.Rcode])
	}

	for _, op := range []int{mdns.OpcodeUpdate, mdns.OpcodeNotify, mdns.OpcodeStatus, mdns.OpcodeIQuery, 15} {
		m := new(mdns.Msg)
		m.SetQuestion("web.", mdns.TypeA)
		m.Opcode = op
		if r := exchange(m); r.Rcode != mdns.RcodeNotImplemented || r.Opcode != op {
			t.Errorf("opcode %d: %s opcode %d, want NOTIMP", op, mdns.RcodeToString[r.Rcode], r.Opcode)
		}
	}

	for _, qtype := range []uint16{mdns.TypeAXFR, mdns.TypeIXFR} {
		m := new(mdns.Msg)
		m.SetQuestion("web.", qtype)
		if r := exchange(m); r.Rcode != mdns.RcodeRefused {
			t.Errorf("%s: %s, want REFUSED", mdns.Type(qtype), mdns.RcodeToString[r.Rcode])
		}
	}

	twoOPT := new(mdns.Msg)
	twoOPT.SetQuestion("web.", mdns.TypeA)
	twoOPT.SetEdns0(1232, false)
	twoOPT.SetEdns0(1232, false)
	if r := exchange(twoOPT); r.Rcode != mdns.RcodeFormatError {
		t.Errorf("two OPT records: %s, want FORMERR", mdns.RcodeToString[r.Rcode])
	}

	if q := up.queries(); len(q) != 0 {
		t.Errorf("malformed queries reached the upstream: %v", q)
	}
}

func TestEDNS(t *testing.T) {
	addr, _ := serverWithUpstream(t)
	c := client("udp", srcFront, 2*time.Second)

	m := new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	m.SetEdns0(4096, true)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	opt := r.IsEdns0()
	if opt == nil || opt.UDPSize() != advertisedUDPSize || !opt.Do() || opt.Version() != 0 {
		t.Errorf("EDNS0 reply OPT = %v, want payload %d, DO echoed", opt, advertisedUDPSize)
	}

	m = new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	if r, _, _ := c.Exchange(m, addr); r == nil || r.IsEdns0() != nil {
		t.Errorf("no EDNS0 in query, but OPT in reply: %v", r)
	}

	m = new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	r, _, err = c.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeBadVers || r.IsEdns0() == nil || len(r.Answer) != 0 {
		t.Errorf("EDNS version 1: rcode %d (%s), want BADVERS with OPT", r.Rcode, mdns.RcodeToString[r.Rcode])
	}
}

func TestTruncation(t *testing.T) {
	tb := NewTable()
	const n = 100
	for i := range n {
		tb.Set("front", fmt.Sprint("ep", i), []string{fmt.Sprint("c", i), "many"}, netip.AddrFrom4([4]byte{10, 1, 1, byte(i)}), netip.Addr{})
	}
	addr := startServer(t, &Server{Handler: &Handler{Table: tb, ScopeOf: testScopeOf}})
	q := func(network string, edns uint16) (*mdns.Msg, int) {
		t.Helper()
		m := new(mdns.Msg)
		m.SetQuestion("many.", mdns.TypeA)
		if edns > 0 {
			m.SetEdns0(edns, false)
		}
		r, _, err := client(network, srcFront, 2*time.Second).Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s edns %d: %v", network, edns, err)
		}
		r.Compress = true // the size on the wire
		b, _ := r.Pack()
		return r, len(b)
	}

	r, size := q("udp", 0)
	if !r.Truncated || size > mdns.MinMsgSize || len(r.Answer) == 0 || len(r.Answer) >= n {
		t.Errorf("udp without EDNS0: TC=%v, %d bytes, %d answers; want TC, <= 512 bytes, some answers", r.Truncated, size, len(r.Answer))
	}
	r, size = q("udp", 1000)
	if !r.Truncated || size > 1000 || len(r.Answer) >= n {
		t.Errorf("udp EDNS0 1000: TC=%v, %d bytes, %d answers", r.Truncated, size, len(r.Answer))
	}
	r, _ = q("udp", 4096)
	if r.Truncated || len(r.Answer) != n {
		t.Errorf("udp EDNS0 4096: TC=%v, %d answers, want all %d", r.Truncated, len(r.Answer), n)
	}
	r, _ = q("tcp", 0)
	if r.Truncated || len(r.Answer) != n {
		t.Errorf("tcp: TC=%v, %d answers, want all %d", r.Truncated, len(r.Answer), n)
	}
	got := addrsOf(r)
	slices.SortFunc(got, netip.Addr.Compare)
	v4, _ := tb.Lookup([]string{"front"}, "many")
	if !slices.Equal(got, v4) {
		t.Errorf("tcp answers %v, want %v", got, v4)
	}
}

func TestRoundRobin(t *testing.T) {
	tb := NewTable()
	for i := range 4 {
		tb.Set("front", fmt.Sprint("ep", i), []string{"svc"}, netip.AddrFrom4([4]byte{10, 1, 1, byte(i)}), netip.Addr{})
	}
	h := &Handler{Table: tb, ScopeOf: testScopeOf}
	firsts := map[netip.Addr]bool{}
	for range 200 {
		w := newFakeWriter(srcFront, false)
		m := new(mdns.Msg)
		m.SetQuestion("svc.", mdns.TypeA)
		h.ServeDNS(w, m)
		if len(w.msgs) != 1 || len(w.msgs[0].Answer) != 4 {
			t.Fatalf("reply %v", w.msgs)
		}
		firsts[addrsOf(w.msgs[0])[0]] = true
	}
	if len(firsts) < 2 {
		t.Errorf("the first address never changes over 200 queries: %v", firsts)
	}
}
