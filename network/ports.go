package network

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/portmap"
)

// ParsePortSpec parses one `-p`/`--publish` value in Docker's syntax (see
// portmap.ParseSpec). The error matches ErrInvalid and names the value.
func ParsePortSpec(s string) (PortSpec, error) {
	spec, err := portmap.ParseSpec(s)
	return spec, as(ErrInvalid, err)
}

// portRequests expands specs into one request per container port and
// family of n (portmap.RequestsFor): a port with no host address is
// published on every address of each family n has, on one host port. The
// IPv6 loopback side, which no DNAT can serve (IPv6 has no
// route_localnet), is relayed by the daemon to ip6, the endpoint's IPv6
// address. A spec of a family n lacks is ErrInvalid.
func portRequests(n *Network, specs []PortSpec, ip6 netip.Addr) ([]portmap.Request, error) {
	// A family without a gateway (isolated) cannot be reached from the
	// host: nothing is published on it.
	reqs, err := portmap.RequestsFor(specs, n.IPv4() && n.Gateway.IsValid(), n.IPv6() && n.Gateway6.IsValid())
	if err != nil {
		return nil, as(ErrInvalid, fmt.Errorf("network %q: %w", n.Name, err))
	}
	return portmap.Forward6(reqs, ip6), nil
}

// portSpecs turns ep's recorded ports back into specs that ask for exactly
// the same host ports.
func (e *Endpoint) portSpecs() []PortSpec { return portmap.Specs(e.Ports) }

// firewallPorts turns ep's published ports into the firewall's terms.
func firewallPorts(ep *Endpoint) []firewall.Port {
	out := make([]firewall.Port, 0, len(ep.Ports))
	for _, p := range ep.Ports {
		cip := ep.IP.Addr()
		if p.Is6() {
			cip = ep.IP6.Addr()
		}
		out = append(out, firewall.Port{Proto: p.Proto, HostIP: p.HostIP, HostPort: p.HostPort,
			ContainerIP: cip, ContainerPort: p.Port})
	}
	return out
}

// publish installs the DNAT rules of ep's held ports and sets hairpin mode
// on its bridge port. UDP conntrack entries of the ports are flushed, so
// that a flow to an earlier owner of the port does not keep going there.
// On error nothing of it is left.
func (m *Manager) publish(n *Network, ep *Endpoint) error {
	if err := m.links().SetHairpin(ep.HostVeth); err != nil {
		return err
	}
	fw, err := m.fw()
	if err != nil {
		return err
	}
	ports := firewallPorts(ep)
	if err := fw.AddPorts(n.firewall(), ep.ID, ports); err != nil {
		return err
	}
	if m.dry() {
		m.dryFlushUDP(ports)
		return nil
	}
	if err := firewall.FlushUDP(ports); err != nil {
		return errors.Join(err, firewall.DeletePortsOf(fw, n.Name, ep.ID, ports))
	}
	return nil
}

// unpublish removes the DNAT rules of endpoint id on network netName
// (whatever the record says: a damaged record says nothing), flushes the
// UDP conntrack entries of ports, and has the daemon let the host ports go.
func (m *Manager) unpublish(netName, id string, ports []firewall.Port) error {
	var errs []error
	if fw, err := m.fw(); err != nil {
		errs = append(errs, err)
	} else if err := firewall.DeletePortsOf(fw, netName, id, ports); err != nil {
		errs = append(errs, err)
	}
	if m.dry() {
		m.dryFlushUDP(ports)
	} else if err := firewall.FlushUDP(ports); err != nil {
		errs = append(errs, err)
	}
	if err := m.daemon().Release(netName, id); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
