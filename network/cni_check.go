package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrUnknownAttachment is returned by CheckCNI for a CNI attachment plumb
// has no record of.
var ErrUnknownAttachment = errors.New("unknown CNI attachment")

// CNIExpected is what a CHECK's prevResult says about an attachment.
type CNIExpected struct {
	MAC    string         // of the container interface; "" to expect the recorded one
	IPs    []netip.Prefix // addresses of the container interface; nil to expect the recorded one
	Routes []CNIRoute     // routes through the network's gateway or interface
}

// CNIRoute is one route of a CNI result.
type CNIRoute struct {
	Dst netip.Prefix
	GW  netip.Addr // invalid: any (or none)
}

// CheckCNI verifies that the CNI attachment (containerID, ifname) of
// network netName is whole, and changes nothing: its record; the network's
// bridge, up, with the gateway address; the network's firewall rules and
// the DNAT rules of the attachment's published ports; the host veth, up, on
// the bridge; and inside netnsPath (which must still be the namespace the
// record names) the interface, up, with exp's MAC and addresses, the
// recorded address among them, the default route via the gateway when the
// attach made one, and exp's routes. The error names the first thing
// missing. Equivalent to reading `ip link`, `ip addr`, `ip -n NS link`,
// `ip -n NS addr`, `ip -n NS route` and `iptables-save`.
func (m *Manager) CheckCNI(netName, containerID, ifname, netnsPath string, exp CNIExpected) error {
	id := CNIEndpointID(containerID, ifname)
	n, err := m.Get(netName)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("container %s (%s): %w: network %q does not exist", containerID, ifname, ErrUnknownAttachment, netName)
	}
	if err != nil {
		return err
	}
	ep, err := m.endpoint(netName, id)
	if errors.Is(err, ErrNotAttached) {
		return fmt.Errorf("container %s (%s): %w on network %q", containerID, ifname, ErrUnknownAttachment, netName)
	}
	if err != nil {
		return err
	}
	if err := checkHostSide(n, ep); err != nil {
		return err
	}
	fw, err := newFirewall()
	if err != nil {
		return err
	}
	if err := fw.CheckEndpoint(n.firewall(), ep.ID, natPorts(ep)); err != nil {
		return err
	}
	return checkInside(n, ep, netnsPath, exp)
}

// checkHostSide checks n's bridge and ep's host veth.
func checkHostSide(n *Network, ep *Endpoint) error {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %q of network %q is missing: %w", n.Bridge, n.Name, err)
	}
	if _, ok := br.(*netlink.Bridge); !ok {
		return fmt.Errorf("interface %q of network %q %w", n.Bridge, n.Name, ErrNotBridgeLink)
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("bridge %q of network %q is down", n.Bridge, n.Name)
	}
	if err := hasAddr(netlink.AddrList, br, netip.PrefixFrom(n.Gateway, n.Subnet.Bits())); err != nil {
		return fmt.Errorf("bridge %q: %w", n.Bridge, err)
	}
	hv, err := netlink.LinkByName(ep.HostVeth)
	if err != nil {
		return fmt.Errorf("host veth %q of container %s is missing: %w", ep.HostVeth, ep.ContainerID, err)
	}
	if hv.Attrs().MasterIndex != br.Attrs().Index {
		return fmt.Errorf("host veth %q of container %s is not on bridge %q", ep.HostVeth, ep.ContainerID, n.Bridge)
	}
	if hv.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("host veth %q of container %s is down", ep.HostVeth, ep.ContainerID)
	}
	return nil
}

// ErrNotBridgeLink marks a network's bridge name held by another kind of link.
var ErrNotBridgeLink = errors.New("is not a bridge")

// checkInside checks ep's interface, addresses and routes inside its
// namespace.
func checkInside(n *Network, ep *Endpoint, netnsPath string, exp CNIExpected) error {
	if netnsPath == "" {
		netnsPath = ep.NetNS
	}
	nsh, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return fmt.Errorf("netns %q of container %s: %w", netnsPath, ep.ContainerID, err)
	}
	defer nsh.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(nsh), &st); err != nil || st.Ino != ep.NetNSInode {
		return fmt.Errorf("netns %q is not the namespace container %s was attached in", netnsPath, ep.ContainerID)
	}
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("opening netlink in netns %q: %w", netnsPath, err)
	}
	defer h.Close()
	l, err := h.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("interface %q is missing in netns %q: %w", ep.IfName, netnsPath, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("interface %q in netns %q is down", ep.IfName, netnsPath)
	}
	mac := exp.MAC
	if mac == "" {
		mac = ep.MAC
	}
	if !strings.EqualFold(l.Attrs().HardwareAddr.String(), mac) {
		return fmt.Errorf("interface %q in netns %q has MAC %s, want %s", ep.IfName, netnsPath, l.Attrs().HardwareAddr, mac)
	}
	ips := exp.IPs
	if ips == nil {
		ips = []netip.Prefix{ep.IP}
	}
	found := false
	for _, ip := range ips {
		found = found || ip == ep.IP
		if err := hasAddr(h.AddrList, l, ip); err != nil {
			return fmt.Errorf("interface %q in netns %q: %w", ep.IfName, netnsPath, err)
		}
	}
	if !found {
		return fmt.Errorf("the result gives %q the addresses %v, but plumb gave it %s", ep.IfName, ips, ep.IP)
	}
	routes := exp.Routes
	if ep.DefaultRoute {
		routes = append(routes, CNIRoute{Dst: netip.MustParsePrefix("0.0.0.0/0"), GW: n.Gateway})
	}
	for _, r := range routes {
		if err := hasRoute(h, r); err != nil {
			return fmt.Errorf("netns %q: %w", netnsPath, err)
		}
	}
	return nil
}

// hasAddr checks that link l has the IPv4 address p, listing with list
// (netlink.AddrList or a handle's).
func hasAddr(list func(netlink.Link, int) ([]netlink.Addr, error), l netlink.Link, p netip.Prefix) error {
	addrs, err := list(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && netip.PrefixFrom(ip, ones) == p {
			return nil
		}
	}
	return fmt.Errorf("address %s is missing", p)
}

// hasRoute checks that the main table holds a route to r.Dst, via r.GW
// when it is given.
func hasRoute(h *netlink.Handle, r CNIRoute) error {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing routes: %w", err)
	}
	for _, x := range routes {
		dst := netip.MustParsePrefix("0.0.0.0/0")
		if x.Dst != nil {
			ones, _ := x.Dst.Mask.Size()
			a, _ := netip.AddrFromSlice(x.Dst.IP.To4())
			dst = netip.PrefixFrom(a, ones)
		}
		if dst != r.Dst.Masked() {
			continue
		}
		gw, _ := netip.AddrFromSlice(x.Gw.To4())
		if !r.GW.IsValid() || gw == r.GW {
			return nil
		}
	}
	if r.GW.IsValid() {
		return fmt.Errorf("route to %s via %s is missing", r.Dst, r.GW)
	}
	return fmt.Errorf("route to %s is missing", r.Dst)
}
