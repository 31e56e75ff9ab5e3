package dns

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// benchTable: 20 networks of 100 endpoints, three names each.
func benchTable() *Table {
	tb := NewTable()
	for n := range 20 {
		for e := range 100 {
			id := fmt.Sprintf("%02d%010d", n, e)
			tb.Set(fmt.Sprint("net", n), id, []string{fmt.Sprintf("c%d-%d", n, e), fmt.Sprintf("alias%d", e), id[:12]},
				netip.AddrFrom4([4]byte{10, byte(n), 0, byte(e + 2)}), netip.Addr{})
		}
	}
	return tb
}

// BenchmarkLookup is the table's hot path, from every core at once: a hit,
// a hit on the client's second network, and a miss (which also tries the
// "name.network" forms).
func BenchmarkLookup(b *testing.B) {
	tb := benchTable()
	for _, bc := range []struct{ name, q string }{
		{"hit", "c3-42"},
		{"second-network", "c4-42"},
		{"miss", "www.example.com."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			scope := []string{"net3", "net4"}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = tb.Lookup(scope, bc.q)
				}
			})
		})
	}
}

// BenchmarkHandler is one query through ServeDNS and the reply packed, with
// no sockets: the handler's own cost per query.
func BenchmarkHandler(b *testing.B) {
	h := &Handler{Table: benchTable(), ScopeOf: func(mdns.ResponseWriter) (Scope, bool) {
		return Scope{Networks: []string{"net3"}}, true
	}}
	for _, bc := range []struct {
		name  string
		q     string
		qtype uint16
	}{
		{"A", "c3-42.", mdns.TypeA},
		{"NXDOMAIN", "nothere.", mdns.TypeA},
		{"PTR", "44.0.3.10.in-addr.arpa.", mdns.TypePTR},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := new(mdns.Msg)
			m.SetQuestion(bc.q, bc.qtype)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{}
				for pb.Next() {
					h.ServeDNS(w, m)
				}
			})
		})
	}
}

type discardWriter struct{ fakeWriter }

func (w *discardWriter) LocalAddr() net.Addr  { return &net.UDPAddr{} }
func (w *discardWriter) RemoteAddr() net.Addr { return &net.UDPAddr{} }
func (w *discardWriter) WriteMsg(m *mdns.Msg) error {
	_, err := m.Pack()
	return err
}

// BenchmarkServeUDP is queries per second through the whole server over
// loopback UDP: many clients, each one query in flight, scoped by source
// address. The clients share the machine's cores with the server, so the
// figure understates what the server alone can do. ns/op is the wall time
// per query over all clients; "qps" is its inverse.
func BenchmarkServeUDP(b *testing.B) {
	h := &Handler{Table: benchTable(), ScopeOf: func(w mdns.ResponseWriter) (Scope, bool) {
		ap, ok := RemoteAddrPort(w)
		if !ok || !ap.Addr().IsLoopback() {
			return Scope{}, false
		}
		return Scope{Networks: []string{"net3"}}, true
	}}
	addr := startServer(b, &Server{Handler: h})
	m := new(mdns.Msg)
	m.SetQuestion("c3-42.", mdns.TypeA)
	query, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		for pb.Next() {
			if _, err := c.Write(query); err != nil {
				b.Error(err)
				return
			}
			n, err := c.Read(buf)
			if err != nil || n < 12 || buf[0] != query[0] || buf[1] != query[1] {
				b.Errorf("bad reply: %d bytes, %v", n, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
}

// BenchmarkSet is one attach's table write on a network that already has n
// endpoints: the whole network's indexes are rebuilt, so it grows with n.
func BenchmarkSet(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tb := NewTable()
			for e := range n {
				id := fmt.Sprintf("%012d", e)
				tb.Set("net", id, []string{"c" + id, "alias", id[:12]}, netip.AddrFrom4([4]byte{10, 0, byte(e >> 8), byte(e)}), netip.Addr{})
			}
			ip := netip.MustParseAddr("10.255.0.1")
			b.ReportAllocs()
			for b.Loop() {
				tb.Set("net", "new", []string{"new", "alias"}, ip, netip.Addr{})
			}
		})
	}
}

// BenchmarkServeDNSPerf loads a server on 127.0.0.1 with dnsperf (when it
// is installed) for 3 seconds whatever b.N, and reports dnsperf's qps and
// the CPU time this process (the server, essentially) spent per query: a
// figure that other work on the machine disturbs much less than qps. Use
// -benchtime=1x; -cpu sets the server's GOMAXPROCS.
func BenchmarkServeDNSPerf(b *testing.B) {
	bin, err := exec.LookPath("dnsperf")
	if err != nil {
		b.Skip("dnsperf is not installed")
	}
	h := &Handler{Table: benchTable(), ScopeOf: func(w mdns.ResponseWriter) (Scope, bool) {
		return Scope{Networks: []string{"net3"}}, true
	}}
	addr := netip.MustParseAddrPort(startServer(b, &Server{Handler: h}))
	var q strings.Builder
	for e := range 100 {
		fmt.Fprintf(&q, "c3-%d A\n", e)
	}
	qfile := filepath.Join(b.TempDir(), "queries")
	if err := os.WriteFile(qfile, []byte(q.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	out, err := exec.Command(bin, "-s", addr.Addr().String(), "-p", fmt.Sprint(addr.Port()), "-d", qfile, "-l", "3", "-c", "4").CombinedOutput()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if err != nil {
		b.Fatalf("dnsperf: %v: %s", err, out)
	}
	var completed int
	var qps float64
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "Queries completed:"); ok {
			fmt.Sscan(v, &completed)
		}
		if v, ok := strings.CutPrefix(l, "Queries per second:"); ok {
			fmt.Sscan(v, &qps)
		}
	}
	if completed == 0 {
		b.Fatalf("dnsperf completed nothing: %s", out)
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(qps, "qps")
	b.ReportMetric(float64(cpu.Microseconds())/float64(completed), "server-µs/query")
}
