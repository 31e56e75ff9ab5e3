package explain

import (
	"fmt"
	"strconv"
	"strings"
)

// Dst is DST as given: a host (name, address, `host`, or target), a port
// (0: none) and a protocol.
type Dst struct {
	Host  string
	Port  uint16
	Proto string
}

// ParseDst parses DST[:PORT][/tcp|udp]. A target spec such as pid:N or
// netns:NAME keeps its colon: "netns:web:80" is netns:web, port 80.
// Errors name the bad value.
func ParseDst(s string) (Dst, error) {
	d := Dst{Host: s, Proto: "tcp"}
	// A /PROTO suffix; a path target keeps its slashes.
	if i := strings.LastIndexByte(s, '/'); i >= 0 && (!strings.HasPrefix(s, "/") || s[i+1:] == "tcp" || s[i+1:] == "udp") {
		p := s[i+1:]
		if p != "tcp" && p != "udp" {
			return Dst{}, fmt.Errorf("malformed protocol %q in %q: want tcp or udp", p, s)
		}
		d.Proto, d.Host = p, s[:i]
	}
	if i := strings.LastIndexByte(d.Host, ':'); i >= 0 {
		head, tail := d.Host[:i], d.Host[i+1:]
		if head != "pid" && head != "netns" {
			n, err := strconv.ParseUint(tail, 10, 16)
			if err != nil || n == 0 {
				return Dst{}, fmt.Errorf("malformed port %q in %q: want 1-65535", tail, s)
			}
			d.Host, d.Port = head, uint16(n)
		}
	}
	if d.Host == "" {
		return Dst{}, fmt.Errorf("malformed destination %q: no host", s)
	}
	return d, nil
}
