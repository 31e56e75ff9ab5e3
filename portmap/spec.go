package portmap

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error ParseSpec returns.
var ErrInvalid = errors.New("invalid port mapping")

// MaxRange bounds one range of container ports: each port costs two rules
// and a held socket.
const MaxRange = 1024

// Spec is one `-p` argument, Docker's
// [HOSTIP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp], before the host ports
// left open are chosen.
type Spec struct {
	// HostIP is the host address. Zero: none given, every address of
	// each family the network has (see RequestsFor). An IPv6 address, ::
	// included, confines the mapping to IPv6; an IPv4 one, 0.0.0.0
	// included, to IPv4 (as Docker 28).
	HostIP netip.Addr
	// HostPort..HostPortEnd is the host side; 0..0 means any free port.
	// A range with a single container port means the first free port in it.
	HostPort, HostPortEnd uint16
	Port, PortEnd         uint16 // container side; PortEnd == Port for one port
	Proto                 string // tcp or udp
}

// String is s in Docker's notation, as ParseSpec reads it back:
// "8080:80/tcp", "127.0.0.1::80/udp", "[::1]:8000-8001:80-81/tcp".
func (s Spec) String() string {
	var b strings.Builder
	switch {
	case s.HostIP.Is6():
		b.WriteString("[" + s.HostIP.String() + "]:")
	case s.HostIP.IsValid():
		b.WriteString(s.HostIP.String() + ":")
	}
	if s.HostPort != 0 {
		b.WriteString(portRange(s.HostPort, s.HostPortEnd) + ":")
	} else if s.HostIP.IsValid() {
		b.WriteString(":")
	}
	b.WriteString(portRange(s.Port, s.PortEnd) + "/" + s.Proto)
	return b.String()
}

func portRange(lo, hi uint16) string {
	if hi > lo {
		return fmt.Sprintf("%d-%d", lo, hi)
	}
	return strconv.Itoa(int(lo))
}

// ParseSpec parses one `-p`/`--publish` value in Docker's syntax:
//
//	80                      container port 80 on a free host port
//	8080:80  8080:80/udp    host port 8080 to container port 80
//	127.0.0.1:8080:80       on one host address only
//	127.0.0.1::80           a free port on one host address
//	[::1]:8080:80           on one IPv6 host address (in brackets) only
//	[::]:8080:80/udp        on every IPv6 address of the host only
//	8000-8005:9000-9005     a range onto a range of the same length
//	8000-8010:80            the first free host port of the range
//
// 0.0.0.0 asks for every IPv4 address only. Protocols other than tcp and udp,
// an IPv6 address without brackets, with a zone, link-local, multicast or
// IPv4-mapped are refused. The error wraps ErrInvalid and names the bad
// value.
func ParseSpec(s string) (Spec, error) {
	bad := func(why string) (Spec, error) {
		return Spec{}, fmt.Errorf("%w %q: %s", ErrInvalid, s, why)
	}
	spec := Spec{Proto: "tcp"}
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		spec.Proto = strings.ToLower(rest[i+1:])
		rest = rest[:i]
		if spec.Proto != "tcp" && spec.Proto != "udp" {
			return bad("protocol must be tcp or udp")
		}
	}
	hostIP, hostPorts, ports, err := splitSpec(rest)
	if err != nil {
		return bad(err.Error())
	}
	if hostIP != "" {
		if spec.HostIP, err = parseHostIP(hostIP); err != nil {
			return bad(err.Error())
		}
	}
	if spec.Port, spec.PortEnd, err = parseRange(ports, false); err != nil {
		return bad("container port " + err.Error())
	}
	if hostPorts != "" {
		if spec.HostPort, spec.HostPortEnd, err = parseRange(hostPorts, true); err != nil {
			return bad("host port " + err.Error())
		}
	}
	n, hn := spec.PortEnd-spec.Port, spec.HostPortEnd-spec.HostPort
	if n >= MaxRange {
		return bad(fmt.Sprintf("a range of more than %d ports", MaxRange))
	}
	if n > 0 && spec.HostPort != 0 && hn != n {
		return bad(fmt.Sprintf("host range %s has %d ports, container range %s has %d", hostPorts, hn+1, ports, n+1))
	}
	return spec, nil
}

// splitSpec splits [HOSTIP:][HOSTPORT:]PORT, HOSTIP an IPv6 address in
// brackets or anything without a colon; an IPv6 address keeps its
// brackets in hostIP.
func splitSpec(s string) (hostIP, hostPorts, ports string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", "", errors.New("no ] closes the IPv6 host address")
		}
		hp, p, ok := strings.Cut(strings.TrimPrefix(s[end+1:], ":"), ":")
		if !strings.HasPrefix(s[end+1:], ":") || !ok || strings.Contains(p, ":") {
			return "", "", "", errors.New("want [IPV6]:[HOSTPORT]:PORT[/PROTO]")
		}
		return s[:end+1], hp, p, nil
	}
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 1:
		return "", "", parts[0], nil
	case 2:
		return "", parts[0], parts[1], nil
	case 3:
		return parts[0], parts[1], parts[2], nil
	}
	if _, err := netip.ParseAddr(strings.Join(parts[:len(parts)-2], ":")); err == nil {
		return "", "", "", errors.New("an IPv6 host address goes in brackets: [IPV6]:HOSTPORT:PORT")
	}
	return "", "", "", errors.New("want [HOSTIP:][HOSTPORT:]PORT[/PROTO]")
}

// parseHostIP parses a host address, an IPv6 one in brackets. 0.0.0.0
// stays 0.0.0.0 (IPv4 only) and :: stays :: (IPv6 only).
func parseHostIP(s string) (netip.Addr, error) {
	inner, v6 := strings.CutPrefix(s, "[")
	inner = strings.TrimSuffix(inner, "]")
	ip, err := netip.ParseAddr(inner)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("host address %q is not an IP address", s)
	case ip.Zone() != "":
		return netip.Addr{}, fmt.Errorf("host address %q has a zone; -p takes none", s)
	case v6 && ip.Is4():
		return netip.Addr{}, fmt.Errorf("host address %q: brackets are for IPv6 addresses", s)
	case !v6 && ip.Is6():
		return netip.Addr{}, fmt.Errorf("IPv6 host address %q goes in brackets: [%s]", s, s)
	case ip.Is4In6():
		return netip.Addr{}, fmt.Errorf("host address %q is IPv4-mapped; give the IPv4 address", s)
	case ip.Is6() && (ip.IsLinkLocalUnicast() || ip.IsMulticast()):
		return netip.Addr{}, fmt.Errorf("host address %q is not a unicast address -p can bind (link-local or multicast)", s)
	}
	// 0.0.0.0 is kept: it asks for IPv4 only, as with Docker 28, where
	// no address asks for every address of each family.
	return ip, nil
}

// parseRange parses "N" or "N-M" (1..65535, N <= M); with zeroOK, "0" is
// the single value 0 (a free port).
func parseRange(s string, zeroOK bool) (lo, hi uint16, err error) {
	first, last, isRange := strings.Cut(s, "-")
	p := func(v string) (uint16, error) {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || (n == 0 && !(zeroOK && !isRange)) {
			return 0, fmt.Errorf("%q is not a port number (1-65535)", v)
		}
		return uint16(n), nil
	}
	if lo, err = p(first); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = p(last); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %q ends before it starts", s)
		}
	}
	return lo, hi, nil
}
