package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// An IPv6-only endpoint (no IPv4 address, as on a network made with
// --ipv4=false) and a dual-stack one with its own AAAA, on "front".
var (
	sixV6   = netip.MustParseAddr("fd00:1::6")
	sixID   = "abcdef012345"
	dualV4  = netip.MustParseAddr("10.1.0.7")
	dualV6  = netip.MustParseAddr("fd00:1::7")
	linkV6  = netip.MustParseAddr("fe80::1")
	farName = "example.com."
)

func v6Table() *Table {
	t := testTable()
	t.Set("front", "ep-six", []string{"six", "six-alias", sixID}, netip.Addr{}, sixV6)
	t.Set("front", "ep-dual", []string{"dual", "dual-alias"}, dualV4, dualV6)
	return t
}

func reverse(t testing.TB, ip netip.Addr) string {
	t.Helper()
	s, err := mdns.ReverseAddr(ip.String())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// AAAA for every name, alias and short id of an endpoint with an IPv6
// address; A only from the IPv4 address: a name that exists with the
// other family only answers NOERROR with no data, never NXDOMAIN, and is
// never forwarded (as Docker does).
func TestAAAAAndNODATAByFamily(t *testing.T) {
	up := startUpstream(t, nil)
	h := &Handler{Table: v6Table(), ScopeOf: testScopeOf,
		Forwarder: &UpstreamForwarder{Servers: []netip.AddrPort{up.addr}, Timeout: time.Second}}
	addr := startServer(t, &Server{Handler: h})
	for _, network := range []string{"udp", "tcp"} {
		c := client(network, srcFront, 2*time.Second)
		for _, tc := range []struct {
			name  string
			qtype uint16
			want  []netip.Addr
		}{
			{"six.", mdns.TypeAAAA, []netip.Addr{sixV6}},
			{"SIX-alias.", mdns.TypeAAAA, []netip.Addr{sixV6}},
			{sixID + ".", mdns.TypeAAAA, []netip.Addr{sixV6}},
			{"six.front.", mdns.TypeAAAA, []netip.Addr{sixV6}},
			{"six.", mdns.TypeA, nil},
			{"six-alias.", mdns.TypeA, nil},
			{sixID + ".", mdns.TypeA, nil},
			{"six.", mdns.TypeANY, []netip.Addr{sixV6}},
			{"dual-alias.", mdns.TypeAAAA, []netip.Addr{dualV6}},
			{"dual.", mdns.TypeA, []netip.Addr{dualV4}},
			{"dual.", mdns.TypeANY, []netip.Addr{dualV4, dualV6}},
			{"api.", mdns.TypeAAAA, nil}, // IPv4 only
		} {
			r := query(t, c, addr, tc.name, tc.qtype)
			if r.Rcode != mdns.RcodeSuccess || !slices.Equal(addrsOf(r), tc.want) || len(r.Answer) != len(tc.want) {
				t.Errorf("%s %s %s: %s %v, want NOERROR %v", network, tc.name, mdns.Type(tc.qtype),
					mdns.RcodeToString[r.Rcode], r.Answer, tc.want)
			}
		}
	}
	if q := up.queries(); len(q) != 0 {
		t.Errorf("names of the table were forwarded: %v", q)
	}
}

// The UDP fast path answers the IPv6-only names too (A as NODATA), byte
// for byte as the Handler does.
func TestFastPathIPv6Only(t *testing.T) {
	h := &Handler{Table: v6Table(), ScopeOf: testScopeOf}
	for _, name := range []string{"six.", "Six-Alias.", sixID + ".", "six.front.", "dual."} {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeANY, mdns.TypeMX} {
			for _, edit := range []func(*mdns.Msg){nil, func(m *mdns.Msg) { m.SetEdns0(1232, true) }} {
				if !checkFast(t, h, srcFront, packQuery(t, name, qtype, edit)) {
					t.Errorf("%s %s: not answered by the fast path", name, mdns.Type(qtype))
				}
			}
		}
	}
}

// PTR for IPv6 addresses: the ip6.arpa nibble name of an endpoint's
// address answers "name.network.", names[0] being the first name; an
// address outside the scope is not ours; a partial nibble name is not an
// address.
func TestPTRIPv6(t *testing.T) {
	h := &Handler{Table: v6Table(), ScopeOf: testScopeOf}
	for _, tc := range []struct {
		src  netip.Addr
		ip   netip.Addr
		want []string
	}{
		{srcFront, sixV6, []string{"six.front."}},
		{srcFront, dualV6, []string{"dual.front."}},
		{srcFront, dualV4, []string{"dual.front."}},
		{srcBoth, sixV6, []string{"six.front."}},
	} {
		w := newFakeWriter(tc.src, false)
		m := new(mdns.Msg)
		m.SetQuestion(reverse(t, tc.ip), mdns.TypePTR)
		h.ServeDNS(w, m)
		if len(w.msgs) != 1 {
			t.Fatalf("PTR %s: %d replies", tc.ip, len(w.msgs))
		}
		var got []string
		for _, rr := range w.msgs[0].Answer {
			if p, ok := rr.(*mdns.PTR); ok && p.Hdr.Name == m.Question[0].Name && p.Hdr.Ttl == RecordTTL {
				got = append(got, p.Ptr)
			}
		}
		if w.msgs[0].Rcode != mdns.RcodeSuccess || !slices.Equal(got, tc.want) {
			t.Errorf("PTR %s from %s: %s %v, want %v", tc.ip, tc.src, mdns.RcodeToString[w.msgs[0].Rcode], w.msgs[0].Answer, tc.want)
		}
	}
	// Not in scope (back's client), and a /64's nibble name: not ours.
	// Internal scope, so not forwarded: NXDOMAIN.
	h.ScopeOf = func(mdns.ResponseWriter) (Scope, bool) {
		return Scope{Networks: []string{"back"}, Internal: true}, true
	}
	partial := reverse(t, sixV6)[32:] // the name without its 16 least significant nibbles
	for _, name := range []string{reverse(t, sixV6), partial} {
		w := newFakeWriter(srcBack, false)
		m := new(mdns.Msg)
		m.SetQuestion(name, mdns.TypePTR)
		h.ServeDNS(w, m)
		if len(w.msgs) != 1 || w.msgs[0].Rcode != mdns.RcodeNameError || len(w.msgs[0].Answer) != 0 {
			t.Errorf("PTR %s out of scope: %v, want NXDOMAIN", name, w.msgs)
		}
	}
}

// Internal networks never forward, whatever the type: an AAAA for a name
// outside the table is NXDOMAIN at once.
func TestInternalNeverForwardsAAAA(t *testing.T) {
	h := &Handler{Table: v6Table(), ScopeOf: testScopeOf,
		Forwarder: forwarderFunc(func(context.Context, *mdns.Msg) (*mdns.Msg, error) {
			t.Error("an internal client's query was forwarded")
			return nil, fmt.Errorf("no")
		})}
	for _, name := range []string{farName, "six.", "web."} {
		w := newFakeWriter(srcInternal, false)
		m := new(mdns.Msg)
		m.SetQuestion(name, mdns.TypeAAAA)
		h.ServeDNS(w, m)
		if len(w.msgs) != 1 || w.msgs[0].Rcode != mdns.RcodeNameError {
			t.Errorf("internal AAAA %s: %v, want NXDOMAIN", name, w.msgs)
		}
	}
}

// startUpstream6 is startUpstream on [::1] (UDP and TCP, one port),
// answering AAAA 2001:db8::53 and A 192.0.2.1; skipped without IPv6
// loopback.
func startUpstream6(t *testing.T) *upstream {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		var err error
		if pc, err = net.ListenPacket("udp6", "[::1]:0"); err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		if ln, err = net.Listen("tcp6", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no free [::1] port for udp and tcp together")
	}
	u := &upstream{addr: netip.MustParseAddrPort(pc.LocalAddr().String())}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		u.mu.Lock()
		u.seen = append(u.seen, seenQuery{Net: w.LocalAddr().Network(), Name: r.Question[0].Name, Type: r.Question[0].Qtype, Msg: r.Copy()})
		u.mu.Unlock()
		m := new(mdns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		switch r.Question[0].Qtype {
		case mdns.TypeAAAA:
			rr, _ := mdns.NewRR(r.Question[0].Name + " 30 IN AAAA 2001:db8::53")
			m.Answer = append(m.Answer, rr)
		case mdns.TypeA:
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

// Names not ours are forwarded to an IPv6 upstream ([::1]:PORT, as a
// resolv.conf "nameserver ::1" becomes), after an IPv4 one that is down,
// and the answer relayed; a zone on the upstream's address (a link-local
// nameserver's "%eth0") is kept in the address dialled.
func TestForwardToIPv6Upstream(t *testing.T) {
	up := startUpstream6(t)
	zoned := netip.AddrPortFrom(up.addr.Addr().WithZone("lo"), up.addr.Port())
	for _, servers := range [][]netip.AddrPort{
		{up.addr},
		{deadAddr(t), up.addr},
		{zoned},
	} {
		h := &Handler{Table: v6Table(), ScopeOf: testScopeOf,
			Forwarder: &UpstreamForwarder{Servers: servers, Timeout: time.Second}}
		addr := startServer(t, &Server{Handler: h})
		for _, qtype := range []uint16{mdns.TypeAAAA, mdns.TypeA} {
			r := query(t, client("udp", srcFront, 3*time.Second), addr, farName, qtype)
			want := []netip.Addr{netip.MustParseAddr("2001:db8::53")}
			if qtype == mdns.TypeA {
				want = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
			}
			if r.Rcode != mdns.RcodeSuccess || !slices.Equal(addrsOf(r), want) {
				t.Errorf("servers %v: %s %s = %s %v, want %v", servers, farName, mdns.Type(qtype), mdns.RcodeToString[r.Rcode], r.Answer, want)
			}
		}
	}
	if q := up.queries(); len(q) != 6 {
		t.Errorf("the IPv6 upstream saw %d queries, want 6: %v", len(q), q)
	}
}

// A link-local upstream is dialled with its zone, bracketed: the form
// net.Dial needs to pick the interface.
func TestUpstreamAddressForm(t *testing.T) {
	for _, tc := range []struct {
		ap   netip.AddrPort
		want string
	}{
		{netip.AddrPortFrom(netip.MustParseAddr("192.0.2.53"), 53), "192.0.2.53:53"},
		{netip.AddrPortFrom(netip.MustParseAddr("2001:db8::53"), 53), "[2001:db8::53]:53"},
		{netip.AddrPortFrom(linkV6.WithZone("eth0"), 53), "[fe80::1%eth0]:53"},
		{netip.AddrPortFrom(netip.MustParseAddr("::ffff:192.0.2.53"), 53), "192.0.2.53:53"},
	} {
		if got := dialAddr(tc.ap); got != tc.want {
			t.Errorf("dialAddr(%v) = %q, want %q", tc.ap, got, tc.want)
		}
	}
}
