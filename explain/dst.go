package explain

import (
	"fmt"
	"net/netip"
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
// netns:NAME keeps its colon: "netns:web:80" is netns:web, port 80. A
// path target keeps its slashes: a /tcp or /udp suffix is a protocol only
// after a port, so /run/netns/udp is a namespace. An IPv6 address is
// given bare ("fd00::2", no port: every colon is the address's) or in
// brackets ("[fd00::2]", "[fd00::2]:80"); Host is then the address
// without brackets. Errors name the bad value.
func ParseDst(s string) (Dst, error) {
	d := Dst{Host: s, Proto: "tcp"}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && isProtoSuffix(s, i) {
		p := s[i+1:]
		if p != "tcp" && p != "udp" {
			return Dst{}, fmt.Errorf("malformed protocol %q in %q: want tcp or udp", p, s)
		}
		d.Proto, d.Host = p, s[:i]
	}
	if isIPv6(d.Host) {
		return parseDst6(d, s)
	}
	if i := strings.LastIndexByte(d.Host, ':'); i >= 0 {
		head, tail := d.Host[:i], d.Host[i+1:]
		if head != "pid" && head != "netns" {
			n, err := parsePort(tail, s)
			if err != nil {
				return Dst{}, err
			}
			d.Host, d.Port = head, n
		}
	}
	if d.Host == "" {
		return Dst{}, fmt.Errorf("malformed destination %q: no host", s)
	}
	return d, nil
}

// parseDst6 parses d.Host, an IPv6 destination: a bare address, or an
// address in brackets with an optional :PORT.
func parseDst6(d Dst, s string) (Dst, error) {
	h := d.Host
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return Dst{}, fmt.Errorf("malformed IPv6 destination %q: no closing bracket", s)
		}
		rest := h[end+1:]
		h = h[1:end]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			n, err := parsePort(rest[1:], s)
			if err != nil {
				return Dst{}, err
			}
			d.Port = n
		default:
			return Dst{}, fmt.Errorf("malformed IPv6 destination %q: want [ADDRESS]:PORT", s)
		}
	}
	a, err := netip.ParseAddr(h)
	if err != nil || !a.Is6() || a.Is4In6() {
		return Dst{}, fmt.Errorf("malformed IPv6 address %q in %q: want [ADDRESS]:PORT, e.g. [fd00::2]:80", h, s)
	}
	d.Host = a.String()
	return d, nil
}

// parsePort parses a port of DST s: 1-65535.
func parsePort(p, s string) (uint16, error) {
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("malformed port %q in %q: want 1-65535", p, s)
	}
	return uint16(n), nil
}

// isProtoSuffix tells whether the slash at i in s starts a /PROTO suffix:
// always but in a path target, where it must follow a :PORT.
func isProtoSuffix(s string, i int) bool {
	if !strings.HasPrefix(s, "/") {
		return true
	}
	head := s[:i]
	j := strings.LastIndexByte(head, ':')
	if j < 0 || j == len(head)-1 {
		return false
	}
	_, err := strconv.ParseUint(head[j+1:], 10, 64)
	return err == nil
}

// isIPv6 tells whether host is an IPv6 address, bare ("fd00::1") or
// bracketed ("[::1]", "[::1]:80"): two colons or more outside a pid: or
// netns: spec or a path.
func isIPv6(host string) bool {
	if strings.HasPrefix(host, "[") {
		return true
	}
	if strings.HasPrefix(host, "/") || strings.HasPrefix(host, "pid:") || strings.HasPrefix(host, "netns:") {
		return false
	}
	return strings.Count(host, ":") >= 2
}
