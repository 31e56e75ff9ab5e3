package explain

import (
	"fmt"
	"testing"
)

func TestParseDst(t *testing.T) {
	good := map[string]Dst{
		"web":                   {"web", 0, "tcp"},
		"web:80":                {"web", 80, "tcp"},
		"10.0.0.2:53/udp":       {"10.0.0.2", 53, "udp"},
		"host:8080":             {"host", 8080, "tcp"},
		"netns:web":             {"netns:web", 0, "tcp"},
		"netns:web:80/tcp":      {"netns:web", 80, "tcp"},
		"pid:12:80":             {"pid:12", 80, "tcp"},
		"/run/netns/x:80":       {"/run/netns/x", 80, "tcp"},
		"/run/netns/x":          {"/run/netns/x", 0, "tcp"},
		"/run/netns/tcp":        {"/run/netns/tcp", 0, "tcp"},
		"/run/netns/udp:53/udp": {"/run/netns/udp", 53, "udp"},
		"netns:udp:53/udp":      {"netns:udp", 53, "udp"},
		"web/udp":               {"web", 0, "udp"},
	}
	for in, want := range good {
		got, err := ParseDst(in)
		if err != nil || got != want {
			t.Errorf("ParseDst(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"web:0", "web:x", "web:70000", "web:80/sctp", ":80", "web:"} {
		if _, err := ParseDst(in); err == nil {
			t.Errorf("ParseDst(%q): no error", in)
		}
	}
	for _, in := range []string{"fd00::1", "2001:db8::", "[::1]:80", "[fd00::1]", "fd00::1:80/udp"} {
		_, err := ParseDst(in)
		want := fmt.Sprintf("IPv6 destination %q: plumb networks are IPv4", in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseDst(%q) = %v, want %q", in, err, want)
		}
	}
}
