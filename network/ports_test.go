package network

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParsePortSpec(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	good := map[string]PortSpec{
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
		got, err := ParsePortSpec(in)
		if err != nil || got != want {
			t.Errorf("ParsePortSpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := []string{"", "/tcp", "80/sctp", "80/", "x", "0", "65536", "-1", "80-79", "8000-8002:9000-9005",
		"1.2.3:80:80", "[::1]:80:80", "::1:80:80", "a:b:c:d", "80:", "1-2000", "8080:0", "80 ", "1-",
		"127.0.0.1:0-5:80"}
	for _, in := range bad {
		_, err := ParsePortSpec(in)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "\""+in+"\"") {
			t.Errorf("ParsePortSpec(%q) = %v; want ErrInvalid naming the value", in, err)
		}
	}
}

func TestPortRequests(t *testing.T) {
	specs := []PortSpec{
		{HostPort: 8000, HostPortEnd: 8001, Port: 9000, PortEnd: 9001, Proto: "tcp"},
		{HostPort: 7000, HostPortEnd: 7010, Port: 80, PortEnd: 80, Proto: "udp"},
		{Port: 53, PortEnd: 54, Proto: "udp"},
	}
	want := []portRequest{
		{Proto: "tcp", HostPort: 8000, HostPortEnd: 8000, Port: 9000},
		{Proto: "tcp", HostPort: 8001, HostPortEnd: 8001, Port: 9001},
		{Proto: "udp", HostPort: 7000, HostPortEnd: 7010, Port: 80},
		{Proto: "udp", Port: 53},
		{Proto: "udp", Port: 54},
	}
	if got := portRequests(specs); !reflect.DeepEqual(got, want) {
		t.Errorf("portRequests = %+v\nwant %+v", got, want)
	}
}

// TestPortHolder binds loopback ports of the test's own namespace only:
// no traffic, no root.
func TestPortHolder(t *testing.T) {
	h := newPortHolder()
	t.Cleanup(h.closeAll)
	lo := netip.MustParseAddr("127.0.0.1")
	got, err := h.hold("n/a", []portRequest{{Proto: "tcp", HostIP: lo, Port: 80}, {Proto: "udp", HostIP: lo, Port: 53}})
	if err != nil || len(got) != 2 || got[0].HostPort == 0 || got[1].HostPort == 0 {
		t.Fatalf("hold of free ports: %+v, %v", got, err)
	}
	tcp := got[0].HostPort

	// Held: a plain bind fails, even with SO_REUSEADDR (net.Listen sets it).
	if ln, err := net.Listen("tcp4", netip.AddrPortFrom(lo, tcp).String()); err == nil {
		ln.Close()
		t.Fatalf("port %d is not held", tcp)
	}
	// Another endpoint cannot have it; a range finds the next free one.
	if _, err := h.hold("n/b", []portRequest{{Proto: "tcp", HostIP: lo, HostPort: tcp, HostPortEnd: tcp, Port: 80}}); !errors.Is(err, errPortInUse) {
		t.Fatalf("second hold of %d: %v", tcp, err)
	}
	if _, ok := h.held["n/b"]; ok {
		t.Fatal("a failed hold kept something")
	}
	r, err := h.hold("n/b", []portRequest{{Proto: "tcp", HostIP: lo, HostPort: tcp, HostPortEnd: tcp + 20, Port: 80}})
	if err != nil || r[0].HostPort <= tcp {
		t.Fatalf("range hold: %+v %v", r, err)
	}
	// A failed hold of several ports keeps none of them.
	if _, err := h.hold("n/c", []portRequest{{Proto: "udp", HostIP: lo, Port: 1}, {Proto: "tcp", HostIP: lo, HostPort: tcp, HostPortEnd: tcp, Port: 80}}); err == nil {
		t.Fatal("hold of a taken port succeeded")
	}
	if h.has("n/c") {
		t.Fatal("failed hold left ports")
	}
	// Released: the port is free again.
	h.release("n/a")
	h.release("n/a")
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(lo, tcp).String())
	if err != nil {
		t.Fatalf("port %d still held after release: %v", tcp, err)
	}
	ln.Close()
	// An address that is not the host's is one clear error.
	if _, err := h.hold("n/d", []portRequest{{Proto: "tcp", HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 8080, HostPortEnd: 8080, Port: 80}}); err == nil || !strings.Contains(err.Error(), "192.0.2.1") {
		t.Fatalf("hold on a foreign address: %v", err)
	}
}
