package portmap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	good := map[string]Spec{
		"80":                  {Port: 80, PortEnd: 80, Proto: "tcp"},
		"8080:80":             {HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"},
		"8080:80/udp":         {HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "udp"},
		"8080:80/TCP":         {HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"},
		"127.0.0.1:8080:80":   {HostIP: lo, HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"},
		"127.0.0.1::80":       {HostIP: lo, Port: 80, PortEnd: 80, Proto: "tcp"},
		"0.0.0.0:8080:80":     {HostIP: netip.IPv4Unspecified(), HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"},
		"0:80":                {Port: 80, PortEnd: 80, Proto: "tcp"},
		":80":                 {Port: 80, PortEnd: 80, Proto: "tcp"},
		"8000-8005:9000-9005": {HostPort: 8000, HostPortEnd: 8005, Port: 9000, PortEnd: 9005, Proto: "tcp"},
		"8000-8010:80":        {HostPort: 8000, HostPortEnd: 8010, Port: 80, PortEnd: 80, Proto: "tcp"},
		"9000-9001/udp":       {Port: 9000, PortEnd: 9001, Proto: "udp"},
	}
	for in, want := range good {
		got, err := ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := []string{"", "/tcp", "80/sctp", "80/", "x", "0", "65536", "-1", "80-79", "8000-8002:9000-9005",
		"1.2.3:80:80", "::1:80:80", "a:b:c:d", "80:", "1-2000", "8080:0", "80 ", "1-",
		"127.0.0.1:0-5:80"}
	for _, in := range bad {
		_, err := ParseSpec(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "\""+in+"\"") {
			t.Errorf("ParseSpec(%q) = %v; want ErrInvalid naming the value", in, err)
		}
	}
}

func TestParseSpec6(t *testing.T) {
	lo6, any6, doc := netip.MustParseAddr("::1"), netip.IPv6Unspecified(), netip.MustParseAddr("2001:db8::1")
	good := map[string]Spec{
		"[::1]:8080:80":                 {HostIP: lo6, HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"},
		"[::]:8080:80/udp":              {HostIP: any6, HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "udp"},
		"[2001:db8::1]:8080-8081:80-81": {HostIP: doc, HostPort: 8080, HostPortEnd: 8081, Port: 80, PortEnd: 81, Proto: "tcp"},
		"[::1]::80":                     {HostIP: lo6, Port: 80, PortEnd: 80, Proto: "tcp"},
		"[::1]:0:80/UDP":                {HostIP: lo6, Port: 80, PortEnd: 80, Proto: "udp"},
	}
	for in, want := range good {
		got, err := ParseSpec(in)
		if err != nil || got != want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"::1:8080:80":            "brackets",
		"2001:db8::1:8080:80":    "brackets",
		"[::1]:80":               "[IPV6]:[HOSTPORT]:PORT",
		"[::1]8080:80":           "[IPV6]:[HOSTPORT]:PORT",
		"[::1:8080:80":           "no ]",
		"[::1]:8080:80:90":       "[IPV6]:[HOSTPORT]:PORT",
		"[::g]:8080:80":          "not an IP address",
		"[fe80::1%eth0]:8080:80": "zone",
		"[fe80::1]:8080:80":      "link-local",
		"[ff02::1]:8080:80":      "multicast",
		"[127.0.0.1]:8080:80":    "brackets are for IPv6",
		"[::ffff:1.2.3.4]:1:80":  "IPv4-mapped",
		"[::1]:8080:80/sctp":     "protocol",
		"[::1]:8080-8082:80-81":  "host range",
	}
	for in, why := range bad {
		_, err := ParseSpec(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "\""+in+"\"") || !strings.Contains(err.Error(), why) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSpec(%q) = %v; want one line of ErrInvalid naming the value, saying %q", in, err, why)
		}
	}
}

func TestSpecString(t *testing.T) {
	for _, in := range []string{"80/tcp", "8080:80/udp", "127.0.0.1:8080:80/tcp", "127.0.0.1::80/tcp",
		"8000-8005:9000-9005/tcp", "8000-8010:80/tcp", "[::1]:8080:80/tcp", "[::]::80/udp", "[2001:db8::1]:8080-8081:80-81/tcp"} {
		s, err := ParseSpec(in)
		if err != nil || s.String() != in {
			t.Errorf("ParseSpec(%q).String() = %q, %v", in, s, err)
		}
	}
}

func TestRequestsFor(t *testing.T) {
	any6, lo4, lo6 := netip.IPv6Unspecified(), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	specs := []Spec{
		{HostPort: 8000, HostPortEnd: 8001, Port: 9000, PortEnd: 9001, Proto: "tcp"},
		{Port: 53, PortEnd: 53, Proto: "udp"},
	}
	dual := []Request{
		{Proto: "tcp", HostPort: 8000, HostPortEnd: 8000, Port: 9000},
		{Proto: "tcp", HostIP: any6, HostPort: 8000, HostPortEnd: 8000, Port: 9000},
		{Proto: "tcp", HostPort: 8001, HostPortEnd: 8001, Port: 9001},
		{Proto: "tcp", HostIP: any6, HostPort: 8001, HostPortEnd: 8001, Port: 9001},
		{Proto: "udp", Port: 53},
		{Proto: "udp", HostIP: any6, Port: 53},
	}
	if got, err := RequestsFor(specs, true, true); err != nil || !reflect.DeepEqual(got, dual) {
		t.Errorf("RequestsFor dual = %+v, %v\nwant %+v", got, err, dual)
	}
	if got, err := RequestsFor(specs, true, false); err != nil || !reflect.DeepEqual(got, Requests(specs)) {
		t.Errorf("RequestsFor v4 = %+v, %v; want Requests' %+v", got, err, Requests(specs))
	}
	if got, err := RequestsFor(specs, false, true); err != nil || len(got) != 3 || !got[0].Is6() || !got[2].HostIP.IsUnspecified() {
		t.Errorf("RequestsFor v6-only = %+v, %v", got, err)
	}
	one := []Spec{{HostIP: lo6, HostPort: 80, HostPortEnd: 80, Port: 80, PortEnd: 80, Proto: "tcp"}, {HostIP: lo4, Port: 81, PortEnd: 81, Proto: "tcp"}}
	if got, err := RequestsFor(one, true, true); err != nil || len(got) != 2 || got[0].HostIP != lo6 || got[1].HostIP != lo4 {
		t.Errorf("RequestsFor with addresses = %+v, %v", got, err)
	}
	if _, err := RequestsFor(one, true, false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"[::1]:80:80/tcp"`) {
		t.Errorf("an IPv6 address on an IPv4-only network: %v", err)
	}
	if _, err := RequestsFor(one, false, true); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"127.0.0.1::81/tcp"`) {
		t.Errorf("an IPv4 address on an IPv6-only network: %v", err)
	}
	if _, err := RequestsFor(specs, false, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("no family: %v", err)
	}
}

func TestForward6(t *testing.T) {
	c := netip.MustParseAddr("fd00::5")
	reqs := []Request{
		{Proto: "tcp", Port: 80},
		{Proto: "tcp", HostIP: netip.IPv6Unspecified(), Port: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("::1"), Port: 53},
		{Proto: "tcp", HostIP: netip.MustParseAddr("2001:db8::1"), Port: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), Port: 80},
	}
	got := Forward6(reqs, c)
	want := []netip.AddrPort{{}, netip.AddrPortFrom(c, 80), netip.AddrPortFrom(c, 53), {}, {}}
	for i := range got {
		if got[i].Forward != want[i] {
			t.Errorf("Forward6 of %+v: %v, want %v", reqs[i], got[i].Forward, want[i])
		}
	}
	if r := Forward6([]Request{{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), Port: 1}}, netip.Addr{}); r[0].Forward.IsValid() {
		t.Errorf("Forward6 with no container address set %v", r[0].Forward)
	}
}

func TestMappingString6(t *testing.T) {
	for m, want := range map[Mapping]string{
		{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 8080, Port: 80}: "[::1]:8080->80/tcp",
		{Proto: "udp", HostIP: netip.IPv6Unspecified(), HostPort: 53, Port: 53}:      "[::]:53->53/udp",
		{Proto: "tcp", HostPort: 8080, Port: 80}:                                     "0.0.0.0:8080->80/tcp",
	} {
		if m.String() != want || m.Is6() != strings.HasPrefix(want, "[") {
			t.Errorf("%+v: %q (Is6 %v), want %q", m, m, m.Is6(), want)
		}
	}
}

func TestRequests(t *testing.T) {
	specs := []Spec{
		{HostPort: 8000, HostPortEnd: 8001, Port: 9000, PortEnd: 9001, Proto: "tcp"},
		{HostPort: 7000, HostPortEnd: 7010, Port: 80, PortEnd: 80, Proto: "udp"},
		{Port: 53, PortEnd: 54, Proto: "udp"},
	}
	want := []Request{
		{Proto: "tcp", HostPort: 8000, HostPortEnd: 8000, Port: 9000},
		{Proto: "tcp", HostPort: 8001, HostPortEnd: 8001, Port: 9001},
		{Proto: "udp", HostPort: 7000, HostPortEnd: 7010, Port: 80},
		{Proto: "udp", Port: 53},
		{Proto: "udp", Port: 54},
	}
	if got := Requests(specs); !reflect.DeepEqual(got, want) {
		t.Errorf("Requests = %+v\nwant %+v", got, want)
	}
}

func TestSpecsAskForTheSamePorts(t *testing.T) {
	ms := []Mapping{{Proto: "tcp", HostPort: 8080, Port: 80}, {Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, Port: 5353}}
	want := []Request{
		{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, HostPortEnd: 8080, Port: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, HostPortEnd: 53, Port: 5353},
	}
	if got := Requests(Specs(ms)); !reflect.DeepEqual(got, want) {
		t.Errorf("Requests(Specs(ms)) = %+v\nwant %+v", got, want)
	}
	// On a dual-stack network the record's two families come back as
	// they were: the IPv4 mapping is not widened to IPv6 a second time.
	ms = []Mapping{{Proto: "tcp", HostPort: 8080, Port: 80}, {Proto: "tcp", HostIP: netip.IPv6Unspecified(), HostPort: 8080, Port: 80}}
	got, err := RequestsFor(Specs(ms), true, true)
	if err != nil || len(got) != 2 || !got[0].HostIP.Is4() || !got[1].HostIP.Is6() {
		t.Errorf("RequestsFor(Specs(dual-stack record)) = %+v, %v; want one IPv4 and one IPv6 request", got, err)
	}
}

// bindable reports whether a plain socket can bind proto 127.0.0.1:port.
func bindable(t *testing.T, proto string, port uint16) bool {
	t.Helper()
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	ln, err := net.Listen("tcp4", addr)
	if err == nil {
		ln.Close()
	}
	return err == nil
}

// freePort returns a loopback port of proto that nothing holds now.
func freePort(t *testing.T, proto string) uint16 {
	t.Helper()
	h := NewHolder()
	defer h.Close()
	got, err := h.Hold("probe", []Request{{Proto: proto, HostIP: netip.MustParseAddr("127.0.0.1"), Port: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return got[0].HostPort
}

// TestHolder binds loopback ports of the test's own namespace only: no
// traffic, no root.
func TestHolder(t *testing.T) {
	h := NewHolder()
	t.Cleanup(h.Close)
	lo := netip.MustParseAddr("127.0.0.1")
	got, err := h.Hold("n/a", []Request{{Proto: "tcp", HostIP: lo, Port: 80}, {Proto: "udp", HostIP: lo, Port: 53}})
	if err != nil || len(got) != 2 || got[0].HostPort == 0 || got[1].HostPort == 0 {
		t.Fatalf("hold of free ports: %+v, %v", got, err)
	}
	tcp := got[0].HostPort

	// Held: a plain bind fails, even with SO_REUSEADDR (net.Listen sets it).
	if bindable(t, "tcp", tcp) {
		t.Fatalf("port %d is not held", tcp)
	}
	// Another owner cannot have it, and the refusal leaves it with n/a.
	if _, err := h.Hold("n/b", []Request{{Proto: "tcp", HostIP: lo, HostPort: tcp, HostPortEnd: tcp, Port: 80}}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second hold of %d: %v", tcp, err)
	}
	if h.Held("n/b") != nil || len(h.Held("n/a")) != 2 || bindable(t, "tcp", tcp) {
		t.Fatalf("a refused hold changed the holdings: n/a %v, n/b %v", h.Held("n/a"), h.Held("n/b"))
	}
	// A range finds the next free port.
	r, err := h.Hold("n/b", []Request{{Proto: "tcp", HostIP: lo, HostPort: tcp, HostPortEnd: tcp + 20, Port: 80}})
	if err != nil || r[0].HostPort <= tcp {
		t.Fatalf("range hold: %+v %v", r, err)
	}
	// A failed hold of several ports unbinds the ones it had bound.
	udp := freePort(t, "udp")
	if _, err := h.Hold("n/c", []Request{{Proto: "udp", HostIP: lo, HostPort: udp, HostPortEnd: udp, Port: 1}, {Proto: "tcp", HostIP: lo, HostPort: tcp, HostPortEnd: tcp, Port: 80}}); err == nil {
		t.Fatal("hold of a taken port succeeded")
	}
	if !bindable(t, "udp", udp) {
		t.Fatalf("failed hold left udp port %d bound", udp)
	}
	// Released: the port is free again, and releasing twice is fine.
	h.Release("n/a")
	h.Release("n/a")
	if !bindable(t, "tcp", tcp) {
		t.Fatalf("port %d still held after release", tcp)
	}
	// An address that is not the host's is one clear error.
	if _, err := h.Hold("n/d", []Request{{Proto: "tcp", HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 8080, HostPortEnd: 8080, Port: 80}}); err == nil || !strings.Contains(err.Error(), "192.0.2.1") {
		t.Fatalf("hold on a foreign address: %v", err)
	}
}

// TestHolder6 binds loopback ports of the test's own namespace only.
func TestHolder6(t *testing.T) {
	h := NewHolder()
	t.Cleanup(h.Close)
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	// Twins (an IPv4 request, then its IPv6 one) get one port.
	got, err := h.Hold("n/a", []Request{{Proto: "tcp", HostIP: lo4, Port: 80}, {Proto: "udp", HostIP: lo6, Port: 53},
		{Proto: "tcp", HostIP: lo6, Port: 80}})
	if err != nil || len(got) != 3 || got[0].HostPort != got[2].HostPort || got[0].Is6() || !got[2].Is6() || got[1].String() != fmt.Sprintf("[::1]:%d->53/udp", got[1].HostPort) {
		t.Fatalf("hold of twins: %v, %v", got, err)
	}
	p := got[2].HostPort
	if bindableAt(t, "tcp", netip.AddrPortFrom(lo6, p)) || bindableAt(t, "udp", netip.AddrPortFrom(lo6, got[1].HostPort)) {
		t.Fatalf("IPv6 ports of %v are not held", got)
	}
	// A port taken in one family is refused for the pair, naming it, and
	// the other family's bind is undone.
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	pair := func(lo, hi uint16) []Request {
		return []Request{{Proto: "tcp", HostIP: lo4, HostPort: lo, HostPortEnd: hi, Port: 80}, {Proto: "tcp", HostIP: lo6, HostPort: lo, HostPortEnd: hi, Port: 80}}
	}
	_, err = h.Hold("n/b", pair(taken, taken))
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("[::1]:%d/tcp", taken)) {
		t.Fatalf("hold of a taken IPv6 port: %v", err)
	}
	if !bindableAt(t, "tcp", netip.AddrPortFrom(lo4, taken)) {
		t.Fatalf("a refused pair left 127.0.0.1:%d bound", taken)
	}
	// A range moves both to the first port free in both families.
	r, err := h.Hold("n/b", pair(taken, taken+20))
	if err != nil || r[0].HostPort <= taken || r[0].HostPort != r[1].HostPort {
		t.Fatalf("range hold of a pair from a port taken in IPv6: %v, %v", r, err)
	}
	h.Release("n/a")
	if !bindableAt(t, "tcp", netip.AddrPortFrom(lo6, p)) {
		t.Fatalf("[::1]:%d still held after release", p)
	}
}
