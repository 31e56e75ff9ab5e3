package explain

import (
	"strings"
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
	good6 := map[string]Dst{
		"fd00::1":              {"fd00::1", 0, "tcp"},
		"2001:db8::":           {"2001:db8::", 0, "tcp"},
		"fd00::1:80/udp":       {"fd00::1:80", 0, "udp"}, // bare: every colon is the address's
		"[::1]:80":             {"::1", 80, "tcp"},
		"[fd00::1]":            {"fd00::1", 0, "tcp"},
		"[FD00:0::2]:8080/udp": {"fd00::2", 8080, "udp"},
	}
	for in, want := range good6 {
		got, err := ParseDst(in)
		if err != nil || got != want {
			t.Errorf("ParseDst(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, names := range map[string]string{"[fd00::1": "closing bracket", "[fd00::1]80": "[ADDRESS]:PORT",
		"[fd00::1]:0": `"0"`, "[10.0.0.1]:80": `"10.0.0.1"`, "fd00::zz": `"fd00::zz"`, "[::ffff:10.0.0.1]": "::ffff:10.0.0.1"} {
		_, err := ParseDst(in)
		if err == nil || !strings.Contains(err.Error(), names) || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseDst(%q) = %v, want an error naming %s and the value", in, err, names)
		}
	}
}
