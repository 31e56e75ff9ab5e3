package network

import (
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/ipam"
)

// chooseSubnets validates or picks n's subnets: IPv4 unless o.NoIPv4,
// IPv6 with o.IPv6 (a ULA /64 derived from n.ID when none is given). A
// family in the isolated gateway mode gets no gateway address.
func (m *Manager) chooseSubnets(n *Network, o CreateOptions, existing []*Network) error {
	if !o.NoIPv4 {
		if err := m.chooseSubnet(n, existing); err != nil {
			return err
		}
		if n.GatewayMode4 == firewall.ModeIsolated {
			n.Gateway = netip.Addr{}
		}
	}
	if o.IPv6 {
		if err := m.chooseSubnet6(n, existing); err != nil {
			return err
		}
		if n.GatewayMode6 == firewall.ModeIsolated {
			n.Gateway6 = netip.Addr{}
		}
	}
	return nil
}

// family is one address family of a network being made: its subnet,
// gateway and ip range, the same family's subnet of another network, and
// how a subnet is picked when none is given.
type family struct {
	subnet  *netip.Prefix
	gateway *netip.Addr
	ipRange netip.Prefix
	of      func(*Network) netip.Prefix
	pick    func(used []netip.Prefix) (netip.Prefix, error)
}

// chooseSubnet validates or picks n's IPv4 subnet: a free private /24
// when none is given (ipam.PickSubnet).
func (m *Manager) chooseSubnet(n *Network, existing []*Network) error {
	return m.chooseFamily(family{&n.Subnet, &n.Gateway, n.IPRange,
		func(e *Network) netip.Prefix { return e.Subnet }, ipam.PickSubnet}, existing)
}

// chooseSubnet6 validates or picks n's IPv6 subnet: a ULA /64 derived
// from n's id when none is given (ipam.ULA).
func (m *Manager) chooseSubnet6(n *Network, existing []*Network) error {
	return m.chooseFamily(family{&n.Subnet6, &n.Gateway6, n.IPRange6,
		func(e *Network) netip.Prefix { return e.Subnet6 },
		func(used []netip.Prefix) (netip.Prefix, error) { return ipam.ULA(n.ID, used) }}, existing)
}

// chooseFamily validates or picks one family's subnet, gateway and ip
// range: a given subnet overlaps no other plumb network's and no host
// route or address; without one f.pick chooses among what is free. The
// gateway is the subnet's first address after the network's own unless
// given, and must be one of its host addresses.
func (m *Manager) chooseFamily(f family, existing []*Network) error {
	var used []netip.Prefix
	for _, e := range existing {
		other := f.of(e)
		if !other.IsValid() {
			continue
		}
		if f.subnet.IsValid() && f.subnet.Overlaps(other) {
			return fmt.Errorf("subnet %s %w network %q (%s)", *f.subnet, ErrOverlap, e.Name, other)
		}
		used = append(used, other)
	}
	host, err := m.links().HostPrefixes()
	if err != nil {
		return err
	}
	if f.subnet.IsValid() {
		for _, h := range host {
			if f.subnet.Overlaps(h) {
				return fmt.Errorf("subnet %s %w the host route %s", *f.subnet, ErrOverlap, h)
			}
		}
	} else if *f.subnet, err = f.pick(append(used, host...)); err != nil {
		return err
	}
	sub := *f.subnet
	if !f.gateway.IsValid() {
		*f.gateway = sub.Addr().Next()
	}
	if gw := *f.gateway; !sub.Contains(gw) || gw == sub.Addr() || gw == ipam.Broadcast(sub) {
		return fmt.Errorf("gateway %s: %w: not a host address of subnet %s", gw, ErrInvalid, sub)
	}
	if _, err := ipam.NewRange(sub, f.ipRange, *f.gateway); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}
