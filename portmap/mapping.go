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

// Host is the host side, 0.0.0.0:PORT when it is every address.
func (m Mapping) Host() netip.AddrPort {
	ip := m.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, m.HostPort)
}

// String is Docker's notation, "0.0.0.0:8080->80/tcp".
func (m Mapping) String() string {
	return fmt.Sprintf("%s->%d/%s", m.Host(), m.Port, m.Proto)
}

// Request is one container port to publish, for a Holder to bind: any
// free host port when HostPort is 0, else the first free one of
// HostPort..HostPortEnd.
type Request struct {
	Proto       string     `json:"proto"`
	HostIP      netip.Addr `json:"hostIp,omitzero"`
	HostPort    uint16     `json:"hostPort,omitempty"`
	HostPortEnd uint16     `json:"hostPortEnd,omitempty"`
	Port        uint16     `json:"port"`
}

// Requests expands specs into one request per container port.
func Requests(specs []Spec) []Request {
	var out []Request
	for _, s := range specs {
		for i := 0; i <= int(s.PortEnd-s.Port); i++ {
			r := Request{Proto: s.Proto, HostIP: s.HostIP, Port: s.Port + uint16(i)}
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
	}
	return out
}

// Specs turns ms back into specs that ask for exactly the same host ports:
// what a re-attached target or a restarted daemon holds again.
func Specs(ms []Mapping) []Spec {
	out := make([]Spec, 0, len(ms))
	for _, m := range ms {
		out = append(out, Spec{HostIP: m.HostIP, HostPort: m.HostPort, HostPortEnd: m.HostPort,
			Port: m.Port, PortEnd: m.Port, Proto: m.Proto})
	}
	return out
}
