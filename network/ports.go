package network

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/firewall"
)

// PortSpec is one `-p` argument, Docker's
// [HOSTIP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp], before the daemon has
// chosen the host ports left open.
type PortSpec struct {
	HostIP netip.Addr // zero: every address of the host
	// HostPort..HostPortEnd is the host side; 0..0 means any free port.
	// A range with a single container port means the first free port in it.
	HostPort, HostPortEnd uint16
	Port, PortEnd         uint16 // container side; PortEnd == Port for one port
	Proto                 string // tcp or udp
}

// PublishedPort is one published port of an endpoint, as recorded: the
// host side resolved to one port.
type PublishedPort struct {
	Proto    string     `json:"proto"`
	HostIP   netip.Addr `json:"hostIp,omitzero"`
	HostPort uint16     `json:"hostPort"`
	Port     uint16     `json:"port"`
}

// Host is the host side, 0.0.0.0:PORT when it is every address.
func (p PublishedPort) Host() netip.AddrPort {
	ip := p.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, p.HostPort)
}

// String is Docker's notation, "0.0.0.0:8080->80/tcp".
func (p PublishedPort) String() string {
	return fmt.Sprintf("%s->%d/%s", p.Host(), p.Port, p.Proto)
}

// natPorts turns ep's published ports into the firewall's terms.
func natPorts(ep *Endpoint) []firewall.Port {
	out := make([]firewall.Port, 0, len(ep.Ports))
	for _, p := range ep.Ports {
		out = append(out, firewall.Port{Proto: p.Proto, HostIP: p.HostIP, HostPort: p.HostPort,
			ContainerIP: ep.IP.Addr(), ContainerPort: p.Port})
	}
	return out
}

// ParsePortSpec parses one `-p`/`--publish` value in Docker's syntax:
//
//	80                      container port 80 on a free host port
//	8080:80  8080:80/udp    host port 8080 to container port 80
//	127.0.0.1:8080:80       on one host address only
//	127.0.0.1::80           a free port on one host address
//	8000-8005:9000-9005     a range onto a range of the same length
//	8000-8010:80            the first free host port of the range
//
// IPv6 host addresses and protocols other than tcp and udp are refused.
// The error names the bad value.
func ParsePortSpec(s string) (PortSpec, error) {
	bad := func(why string) (PortSpec, error) {
		return PortSpec{}, fmt.Errorf("%w port mapping %q: %s", ErrInvalid, s, why)
	}
	spec := PortSpec{Proto: "tcp"}
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
	if spec.Port, spec.PortEnd, err = parsePortRange(ports, false); err != nil {
		return bad("container port " + err.Error())
	}
	if hostPorts != "" {
		if spec.HostPort, spec.HostPortEnd, err = parsePortRange(hostPorts, true); err != nil {
			return bad("host port " + err.Error())
		}
	}
	n, hn := spec.PortEnd-spec.Port, spec.HostPortEnd-spec.HostPort
	if n >= maxPortRange {
		return bad(fmt.Sprintf("a range of more than %d ports", maxPortRange))
	}
	if n > 0 && spec.HostPort != 0 && hn != n {
		return bad(fmt.Sprintf("host range %s has %d ports, container range %s has %d", hostPorts, hn+1, ports, n+1))
	}
	return spec, nil
}

// maxPortRange bounds one range of container ports: each port costs two
// rules and a held socket.
const maxPortRange = 1024

// parsePortRange parses "N" or "N-M" (1..65535, N <= M); with zeroOK, "0"
// is the single value 0 (a free port).
func parsePortRange(s string, zeroOK bool) (lo, hi uint16, err error) {
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

// portRequest is one container port to publish, for the daemon to bind: any
// free host port when HostPort is 0, else the first free one of
// HostPort..HostPortEnd.
type portRequest struct {
	Proto       string     `json:"proto"`
	HostIP      netip.Addr `json:"hostIp,omitzero"`
	HostPort    uint16     `json:"hostPort,omitempty"`
	HostPortEnd uint16     `json:"hostPortEnd,omitempty"`
	Port        uint16     `json:"port"`
}

// portRequests expands specs into one request per container port.
func portRequests(specs []PortSpec) []portRequest {
	var out []portRequest
	for _, s := range specs {
		for i := 0; i <= int(s.PortEnd-s.Port); i++ {
			r := portRequest{Proto: s.Proto, HostIP: s.HostIP, Port: s.Port + uint16(i)}
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

// portSpecs turns ep's recorded ports back into specs that ask for exactly
// the same host ports.
func (e *Endpoint) portSpecs() []PortSpec {
	var out []PortSpec
	for _, p := range e.Ports {
		out = append(out, PortSpec{HostIP: p.HostIP, HostPort: p.HostPort, HostPortEnd: p.HostPort,
			Port: p.Port, PortEnd: p.Port, Proto: p.Proto})
	}
	return out
}

// publish installs the DNAT rules of ep's held ports and sets hairpin mode
// on its bridge port, pushing their undo on u. UDP conntrack entries of the
// ports are flushed, so that a flow to an earlier owner of the port does
// not keep going there.
func (m *Manager) publish(n *Network, ep *Endpoint, u *undo) error {
	if err := bridge.SetHairpin(ep.HostVeth); err != nil {
		return err
	}
	fw, err := newFirewall()
	if err != nil {
		return err
	}
	u.push(func() error { return fw.DeletePorts(n.Name, ep.ID) })
	ports := natPorts(ep)
	if err := fw.AddPorts(n.firewall(), ep.ID, ports); err != nil {
		return err
	}
	return firewall.FlushUDP(ports)
}

// unpublish removes the DNAT rules of endpoint id on network netName
// (whatever the record says: a damaged record says nothing), flushes the
// UDP conntrack entries of ports, and has the daemon let the host ports go.
func (m *Manager) unpublish(netName, id string, ports []firewall.Port) error {
	var errs []error
	fw, err := newFirewall()
	if err == nil {
		err = fw.DeletePorts(netName, id)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if err := firewall.FlushUDP(ports); err != nil {
		errs = append(errs, err)
	}
	if err := m.releasePorts(&Endpoint{Network: netName, ID: id}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
