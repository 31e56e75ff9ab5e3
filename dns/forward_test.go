package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func TestForwardRelaysUpstreamAnswer(t *testing.T) {
	addr, up := serverWithUpstream(t)
	for i, network := range []string{"udp", "tcp"} {
		c := client(network, srcFront, 2*time.Second)
		m := new(mdns.Msg)
		m.SetQuestion("ExAmple.COM.", mdns.TypeA)
		m.SetEdns0(4096, false)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if r.Id != m.Id || r.Rcode != mdns.RcodeSuccess || r.Question[0].Name != "ExAmple.COM." {
			t.Errorf("%s: reply id %d rcode %s question %v", network, r.Id, mdns.RcodeToString[r.Rcode], r.Question)
		}
		if got := addrsOf(r); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.1")}) {
			t.Errorf("%s: relayed answer %v", network, r.Answer)
		}
		if r.Answer[0].Header().Ttl != 30 {
			t.Errorf("%s: upstream TTL not kept: %v", network, r.Answer[0])
		}
		if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != advertisedUDPSize {
			t.Errorf("%s: reply OPT %v, want ours", network, opt)
		}

		q := up.queries()
		if len(q) != i+1 {
			t.Fatalf("upstream saw %d queries, want %d", len(q), i+1)
		}
		got := q[i]
		if got.Name != "ExAmple.COM." || got.Type != mdns.TypeA || got.Net != "udp" {
			t.Errorf("upstream got %s %s over %s", got.Name, mdns.Type(got.Type), got.Net)
		}
		if got.Msg.Id == m.Id && m.Id != 0 {
			// Not an error by itself (1 in 65536), but the ids are meant to be fresh.
			t.Logf("upstream query reused the client's id %d", m.Id)
		}
		if !got.Msg.RecursionDesired {
			t.Errorf("upstream query without RD")
		}
		if opt := got.Msg.IsEdns0(); opt == nil || opt.UDPSize() != advertisedUDPSize {
			t.Errorf("upstream query OPT %v, want payload %d", opt, advertisedUDPSize)
		}
	}

	// Single-label names are forwarded too (as Docker does).
	r := query(t, client("udp", srcFront, 2*time.Second), addr, "printer.", mdns.TypeA)
	if len(r.Answer) != 1 {
		t.Errorf("single label: %v", r)
	}
	if q := up.queries(); q[len(q)-1].Name != "printer." {
		t.Errorf("single-label name not forwarded: %v", q[len(q)-1])
	}
}

func TestForwardUpstreamDownIsSERVFAIL(t *testing.T) {
	dead := deadAddr(t)
	h := &Handler{
		Table:   testTable(),
		ScopeOf: testScopeOf,
		// The forwarder would wait 10s for a silent server; a refused one
		// fails at once, well inside the client's 2s.
		Forwarder: &UpstreamForwarder{Servers: []netip.AddrPort{dead, dead}, Timeout: 10 * time.Second},
	}
	addr := startServer(t, &Server{Handler: h})
	for _, network := range []string{"udp", "tcp"} {
		r := query(t, client(network, srcFront, 2*time.Second), addr, "example.com.", mdns.TypeA)
		if r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("%s: upstream down: %s, want SERVFAIL", network, mdns.RcodeToString[r.Rcode])
		}
	}
}

func TestForwardTriesNextServer(t *testing.T) {
	failing := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeServerFailure)
		_ = w.WriteMsg(m)
	})
	wrong := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Question[0].Name = "other.example."
		_ = w.WriteMsg(m)
	})
	good := startUpstream(t, nil)
	f := &UpstreamForwarder{
		Servers: []netip.AddrPort{deadAddr(t), blackhole(t), failing.addr, wrong.addr, good.addr},
		Timeout: 300 * time.Millisecond,
	}
	m := new(mdns.Msg)
	m.SetQuestion("example.com.", mdns.TypeA)
	r, err := f.Forward(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(r); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.1")}) {
		t.Errorf("answer %v, want the good server's", r)
	}
	for _, u := range []*upstream{failing, wrong, good} {
		if n := len(u.queries()); n != 1 {
			t.Errorf("upstream %s saw %d queries, want 1", u.addr, n)
		}
	}

	// Every server fails with an rcode: the last answer is returned.
	f = &UpstreamForwarder{Servers: []netip.AddrPort{deadAddr(t), failing.addr}, Timeout: time.Second}
	r, err = f.Forward(context.Background(), m)
	if err != nil || r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("all failing: %v, %v; want the SERVFAIL answer", r, err)
	}

	// No server answers at all: an error naming them.
	f = &UpstreamForwarder{Servers: []netip.AddrPort{deadAddr(t)}, Timeout: time.Second}
	if _, err := f.Forward(context.Background(), m); err == nil {
		t.Error("dead upstream: no error")
	} else {
		t.Logf("dead upstream: %v", err)
	}

	// NXDOMAIN is an answer: the next server is not asked.
	nx := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetRcode(r, mdns.RcodeNameError)
		_ = w.WriteMsg(m)
	})
	after := startUpstream(t, nil)
	f = &UpstreamForwarder{Servers: []netip.AddrPort{nx.addr, after.addr}}
	if r, err := f.Forward(context.Background(), m); err != nil || r.Rcode != mdns.RcodeNameError {
		t.Errorf("NXDOMAIN: %v %v", r, err)
	}
	if n := len(after.queries()); n != 0 {
		t.Errorf("server after an NXDOMAIN was asked %d times", n)
	}
}

func TestForwardRetriesTruncatedOverTCP(t *testing.T) {
	const n = 60
	up := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if w.LocalAddr().Network() == "udp" {
			m.Truncated = true
		} else {
			for i := range n {
				rr, _ := mdns.NewRR(fmt.Sprintf("%s 30 IN A 198.51.100.%d", r.Question[0].Name, i))
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf, Forwarder: &UpstreamForwarder{Servers: []netip.AddrPort{up.addr}}}
	addr := startServer(t, &Server{Handler: h})

	m := new(mdns.Msg)
	m.SetQuestion("big.example.", mdns.TypeA)
	m.SetEdns0(4096, false)
	r, _, err := client("udp", srcFront, 2*time.Second).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != n {
		t.Errorf("TC=%v with %d answers, want the full %d from the TCP retry", r.Truncated, len(r.Answer), n)
	}
	q := up.queries()
	if len(q) != 2 || q[0].Net != "udp" || q[1].Net != "tcp" {
		t.Errorf("upstream saw %v, want udp then tcp", q)
	}

	// A client without EDNS0 gets it cut to 512 bytes with TC, and the full
	// answer over TCP.
	r = query(t, client("udp", srcFront, 2*time.Second), addr, "big.example.", mdns.TypeA)
	if !r.Truncated || len(r.Answer) >= n {
		t.Errorf("no EDNS0: TC=%v, %d answers; want TC", r.Truncated, len(r.Answer))
	}
	if r := query(t, client("tcp", srcFront, 2*time.Second), addr, "big.example.", mdns.TypeA); r.Truncated || len(r.Answer) != n {
		t.Errorf("tcp: TC=%v, %d answers", r.Truncated, len(r.Answer))
	}
}

func TestForwardLimitsQueriesInFlight(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	slow := startUpstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		<-release
		m := new(mdns.Msg)
		m.SetReply(r)
		_ = w.WriteMsg(m)
	})
	f := &UpstreamForwarder{Servers: []netip.AddrPort{slow.addr}, Timeout: 5 * time.Second, MaxInFlight: 2}
	m := new(mdns.Msg)
	m.SetQuestion("example.com.", mdns.TypeA)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = f.Forward(context.Background(), m)
		}()
	}
	// Wait until both are at the upstream, then a third must fail at once.
	for deadline := time.Now().Add(5 * time.Second); len(slow.queries()) < 2; {
		if time.Now().After(deadline) {
			t.Fatal("queries never reached the upstream")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := f.Forward(context.Background(), m); !errors.Is(err, ErrTooManyQueries) {
		t.Errorf("third query: %v, want ErrTooManyQueries", err)
	}
	once.Do(func() { close(release) })
	wg.Wait()
	if _, err := f.Forward(context.Background(), m); err != nil {
		t.Errorf("after the others finished: %v", err)
	}
}

func TestForwardErrors(t *testing.T) {
	m := new(mdns.Msg)
	m.SetQuestion("example.com.", mdns.TypeA)
	if _, err := (&UpstreamForwarder{}).Forward(context.Background(), m); !errors.Is(err, ErrNoUpstream) {
		t.Errorf("no servers: %v", err)
	}
	if _, err := (&UpstreamForwarder{Servers: []netip.AddrPort{deadAddr(t)}}).Forward(context.Background(), new(mdns.Msg)); err == nil {
		t.Error("no question: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	up := startUpstream(t, nil)
	if _, err := (&UpstreamForwarder{Servers: []netip.AddrPort{up.addr}}).Forward(ctx, m); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if n := len(up.queries()); n != 0 {
		t.Errorf("cancelled query sent %d times", n)
	}
}

// A Forwarder's answer is fixed up for the client: its id and question, no
// upstream OPT, and an extended rcode the client cannot receive becomes
// SERVFAIL.
func TestRelayFixesUpForwarderAnswer(t *testing.T) {
	h := &Handler{Table: testTable(), ScopeOf: testScopeOf, Forwarder: forwarderFunc(func(_ context.Context, r *mdns.Msg) (*mdns.Msg, error) {
		resp := new(mdns.Msg)
		resp.Id = r.Id + 1
		resp.Question = []mdns.Question{{Name: "elsewhere.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET}}
		resp.Rcode = mdns.RcodeBadCookie
		resp.SetEdns0(65000, false)
		return resp, nil
	})}
	m := new(mdns.Msg)
	m.SetQuestion("example.com.", mdns.TypeA)
	w := newFakeWriter(srcFront, false)
	h.ServeDNS(w, m)
	if len(w.msgs) != 1 {
		t.Fatalf("%d replies (pack error %v)", len(w.msgs), w.packErr)
	}
	r := w.msgs[0]
	if r.Id != m.Id || r.Question[0].Name != "example.com." || !r.Response || r.IsEdns0() != nil || r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("relayed %v", r)
	}
	m.SetEdns0(1232, false)
	w = newFakeWriter(srcFront, false)
	h.ServeDNS(w, m)
	if r := w.msgs[0]; r.Rcode != mdns.RcodeBadCookie || r.IsEdns0() == nil || r.IsEdns0().UDPSize() != advertisedUDPSize {
		t.Errorf("with EDNS0: rcode %d, OPT %v", r.Rcode, r.IsEdns0())
	}
}
