package portmap

import (
	"errors"
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
		"0.0.0.0:8080:80":     {HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"},
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
		"1.2.3:80:80", "[::1]:80:80", "::1:80:80", "a:b:c:d", "80:", "1-2000", "8080:0", "80 ", "1-",
		"127.0.0.1:0-5:80"}
	for _, in := range bad {
		_, err := ParseSpec(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "\""+in+"\"") {
			t.Errorf("ParseSpec(%q) = %v; want ErrInvalid naming the value", in, err)
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
		{Proto: "tcp", HostPort: 8080, HostPortEnd: 8080, Port: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, HostPortEnd: 53, Port: 5353},
	}
	if got := Requests(Specs(ms)); !reflect.DeepEqual(got, want) {
		t.Errorf("Requests(Specs(ms)) = %+v\nwant %+v", got, want)
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
