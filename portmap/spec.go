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
	HostIP netip.Addr // zero: every address of the host
	// HostPort..HostPortEnd is the host side; 0..0 means any free port.
	// A range with a single container port means the first free port in it.
	HostPort, HostPortEnd uint16
	Port, PortEnd         uint16 // container side; PortEnd == Port for one port
	Proto                 string // tcp or udp
}

// ParseSpec parses one `-p`/`--publish` value in Docker's syntax:
//
//	80                      container port 80 on a free host port
//	8080:80  8080:80/udp    host port 8080 to container port 80
//	127.0.0.1:8080:80       on one host address only
//	127.0.0.1::80           a free port on one host address
//	8000-8005:9000-9005     a range onto a range of the same length
//	8000-8010:80            the first free host port of the range
//
// IPv6 host addresses and protocols other than tcp and udp are refused.
// The error wraps ErrInvalid and names the bad value.
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
	if strings.HasPrefix(rest, "[") {
		return bad("IPv6 host addresses are not supported (plumb networks are IPv4)")
	}
	parts := strings.Split(rest, ":")
	var hostIP, hostPorts, ports string
	switch len(parts) {
	case 1:
		ports = parts[0]
	case 2:
		hostPorts, ports = parts[0], parts[1]
	case 3:
		hostIP, hostPorts, ports = parts[0], parts[1], parts[2]
	default:
		return bad("want [HOSTIP:][HOSTPORT:]PORT[/PROTO]")
	}
	if hostIP != "" {
		ip, err := netip.ParseAddr(hostIP)
		if err != nil {
			return bad(fmt.Sprintf("host address %q is not an IP address", hostIP))
		}
		if !ip.Is4() {
			return bad("IPv6 host addresses are not supported (plumb networks are IPv4)")
		}
		if !ip.IsUnspecified() {
			spec.HostIP = ip
		}
	}
	var err error
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
