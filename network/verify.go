package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/plumbnet/plumb/veth"
)

// Expect is what a caller (a CNI CHECK's prevResult) says an endpoint's
// interface must have, on top of what its record says.
type Expect struct {
	MAC    string         // of the container interface; "" to expect the recorded one
	IPs    []netip.Prefix // its addresses; nil to expect the recorded one
	Routes []Route        // routes through the network's gateway or interface
}

// Route is one route inside a namespace: to Dst, via GW when it is valid.
type Route struct {
	Dst netip.Prefix
	GW  netip.Addr
}

// Verify checks that endpoint id of network netName is whole, and changes
// nothing: its record; the network's bridge, up, with the gateway address;
// the network's firewall rules and the DNAT rules of its published ports;
// the host veth, up, on the bridge; and inside nsPath (the recorded
// namespace when empty; it must still be the namespace the record names)
// the interface, up, with want's MAC and addresses, the recorded address
// among them, the default route via the gateway when the attach made one,
// and want's routes. An endpoint with no record is ErrNotAttached; the
// error names the first thing missing. Equivalent to reading `ip link`,
// `ip addr`, `ip -n NS link`, `ip -n NS addr`, `ip -n NS route` and the
// firewall's rules.
func (m *Manager) Verify(netName, id, nsPath string, want Expect) error {
	n, err := m.Get(netName)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("endpoint %s: %w: network %q does not exist", id, ErrNotAttached, netName)
	}
	if err != nil {
		return err
	}
	ep, err := m.Endpoint(netName, id)
	if errors.Is(err, ErrNotAttached) {
		return fmt.Errorf("endpoint %s %w to network %q", id, ErrNotAttached, netName)
	}
	if err != nil {
		return err
	}
	if err := m.links().CheckBridge(n.bridgeConfig()); err != nil {
		return fmt.Errorf("network %q: %w", n.Name, err)
	}
	if err := m.links().CheckVeth(ep.HostVeth, n.Bridge); err != nil {
		return fmt.Errorf("endpoint %s: %w", id, err)
	}
	fw, err := m.fw()
	if err != nil {
		return err
	}
	if err := fw.CheckEndpoint(n.firewall(), ep.ID, firewallPorts(ep)); err != nil {
		return err
	}
	return m.verifyInside(n, ep, nsPath, want)
}

// verifyInside checks ep's interface, addresses and routes inside its
// namespace.
func (m *Manager) verifyInside(n *Network, ep *Endpoint, nsPath string, want Expect) error {
	if nsPath == "" {
		nsPath = ep.NetNS
	}
	ns, err := m.links().OpenNS(nsPath)
	if err != nil {
		return fmt.Errorf("netns %q of endpoint %s: %w", nsPath, ep.ID, err)
	}
	defer ns.Close()
	if !ep.SameNS(ns) {
		return fmt.Errorf("netns %q is not the namespace endpoint %s was attached in", nsPath, ep.ID)
	}
	mac := want.MAC
	if mac == "" {
		mac = ep.MAC
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return fmt.Errorf("endpoint %s: MAC %q: %w", ep.ID, mac, err)
	}
	pc := veth.PeerCheck{Name: ep.IfName, MAC: hw, Addrs: want.IPs}
	if pc.Addrs == nil {
		pc.Addrs = ep.Addrs()
	}
	for _, mine := range ep.Addrs() {
		if !slices.Contains(pc.Addrs, mine) {
			return fmt.Errorf("the result gives %q the addresses %v, but plumb gave it %s", ep.IfName, pc.Addrs, mine)
		}
	}
	for _, r := range want.Routes {
		pc.Routes = append(pc.Routes, veth.Route{Dst: r.Dst, Gateway: r.GW})
	}
	if ep.DefaultRoute {
		pc.Routes = append(pc.Routes, veth.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: n.Gateway})
	}
	if ep.DefaultRoute6 {
		pc.Routes = append(pc.Routes, veth.Route{Dst: netip.MustParsePrefix("::/0"), Gateway: n.Gateway6})
	}
	if err := ns.CheckPeer(pc); err != nil {
		return fmt.Errorf("netns %q: %w", nsPath, err)
	}
	return nil
}
