package portmap

import (
	"fmt"
	"net/netip"
)

// Mapping is one published port as recorded: the host side resolved to
// one port.
type Mapping struct {
	Proto    string     `json:"proto"`
	HostIP   netip.Addr `json:"hostIp,omitzero"`
	HostPort uint16     `json:"hostPort"`
	Port     uint16     `json:"port"`
}

// Is6 reports whether m is an IPv6 mapping: its host address is IPv6
// (:: for every IPv6 address of the host). The zero HostIP is IPv4's
// every address, as plumb has always recorded it.
func (m Mapping) Is6() bool { return m.HostIP.Is6() }

// Host is the host side, 0.0.0.0:PORT when it is every address.
func (m Mapping) Host() netip.AddrPort {
	ip := m.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, m.HostPort)
}

// String is Docker's notation, "0.0.0.0:8080->80/tcp",
// "[::1]:8080->80/tcp".
func (m Mapping) String() string {
	return fmt.Sprintf("%s->%d/%s", m.Host(), m.Port, m.Proto)
}

// Request is one container port to publish, for a Holder to bind: any
// free host port when HostPort is 0, else the first free one of
// HostPort..HostPortEnd. The zero HostIP is every IPv4 address; ::
// every IPv6 one.
type Request struct {
	Proto       string     `json:"proto"`
	HostIP      netip.Addr `json:"hostIp,omitzero"`
	HostPort    uint16     `json:"hostPort,omitempty"`
	HostPortEnd uint16     `json:"hostPortEnd,omitempty"`
	Port        uint16     `json:"port"`
	// Forward, when set, makes the held socket a proxy to it (the
	// container's address and port): connections (TCP) and datagrams (UDP)
	// that reach the socket are relayed there, as docker-proxy does. On an
	// unspecified host address only those sent to a loopback address are
	// relayed: the rest is the DNAT rules' (see NeedsProxy and Forward6).
	Forward netip.AddrPort `json:"forward,omitzero"`
}

// Is6 reports whether r is bound on an IPv6 host address.
func (r Request) Is6() bool { return r.HostIP.Is6() }

// NeedsProxy reports whether DNAT cannot serve r from the host itself, so
// a Holder must relay it (Request.Forward): its host address is IPv6
// loopback, or every IPv6 address, ::1 among them. IPv6 has no
// route_localnet: a packet from ::1 rewritten toward a container is dropped
// as a martian, and `ip6tables -t nat -A OUTPUT -d ::1 -j DNAT` does not
// work. The DNAT rules must leave ::1 alone (`! -d ::1`).
func (r Request) NeedsProxy() bool {
	return r.HostIP.Is6() && (r.HostIP.IsLoopback() || r.HostIP.IsUnspecified())
}

// Forward6 sets Forward to container:Port on each of reqs that NeedsProxy,
// container being an endpoint's IPv6 address, and returns reqs. An
// invalid or IPv4 container leaves reqs as they are.
func Forward6(reqs []Request, container netip.Addr) []Request {
	if !container.Is6() || container.Is4In6() {
		return reqs
	}
	for i, r := range reqs {
		if r.NeedsProxy() {
			reqs[i].Forward = netip.AddrPortFrom(container, r.Port)
		}
	}
	return reqs
}

// Requests expands specs into one request per container port, on the
// host address each spec gives: the zero one (no address) is every IPv4
// address, as on an IPv4-only network. RequestsFor is the same for a
// network with IPv6.
func Requests(specs []Spec) []Request {
	var out []Request
	for _, s := range specs {
		out = append(out, expand(s, s.HostIP)...)
	}
	return out
}

// RequestsFor expands specs into requests for a network with IPv4 (v4),
// IPv6 (v6) or both. A spec with no host address asks, per container port,
// for every IPv4 address (zero HostIP) when v4 and for every IPv6 address
// (::) when v6, the IPv6 request right after its IPv4 twin: a Holder binds
// the two on one host port, as Docker does. A spec with an address is of
// that address's family only. A spec whose family the network lacks is an
// error wrapping ErrInvalid that names it; so is a network with neither.
func RequestsFor(specs []Spec, v4, v6 bool) ([]Request, error) {
	if !v4 && !v6 {
		return nil, fmt.Errorf("%w: a network with neither IPv4 nor IPv6 publishes no ports", ErrInvalid)
	}
	var out []Request
	for _, s := range specs {
		switch {
		case !s.HostIP.IsValid():
			four, six := expand(s, netip.Addr{}), expand(s, netip.IPv6Unspecified())
			for i := range four {
				if v4 {
					out = append(out, four[i])
				}
				if v6 {
					out = append(out, six[i])
				}
			}
		case s.HostIP.Is6() && !v6:
			return nil, fmt.Errorf("%w %q: the network has no IPv6", ErrInvalid, s)
		case s.HostIP.Is4() && !v4:
			return nil, fmt.Errorf("%w %q: the network has no IPv4", ErrInvalid, s)
		default:
			out = append(out, expand(s, s.HostIP)...)
		}
	}
	return out, nil
}

// expand is s's requests, one per container port, on host address ip.
func expand(s Spec, ip netip.Addr) []Request {
	var out []Request
	for i := 0; i <= int(s.PortEnd-s.Port); i++ {
		r := Request{Proto: s.Proto, HostIP: ip, Port: s.Port + uint16(i)}
		switch {
		case s.HostPort == 0:
		case s.PortEnd > s.Port: // range onto range: one to one
			r.HostPort = s.HostPort + uint16(i)
			r.HostPortEnd = r.HostPort
		default:
			r.HostPort, r.HostPortEnd = s.HostPort, s.HostPortEnd
		}
		out = append(out, r)
	}
	return out
}

// Specs turns ms back into specs that ask for exactly the same host ports
// on the same addresses (:: stays ::): what a re-attached target or a
// restarted daemon holds again, through Requests (not RequestsFor, which
// would add the other family). Forward is not recorded in a Mapping: set
// it again (Forward6).
func Specs(ms []Mapping) []Spec {
	out := make([]Spec, 0, len(ms))
	for _, m := range ms {
		// A mapping's zero address is every IPv4 address: asked as
		// 0.0.0.0, which RequestsFor does not widen to IPv6.
		out = append(out, Spec{HostIP: m.Host().Addr(), HostPort: m.HostPort, HostPortEnd: m.HostPort,
			Port: m.Port, PortEnd: m.Port, Proto: m.Proto})
	}
	return out
}
