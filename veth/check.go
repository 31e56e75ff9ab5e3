package veth

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"github.com/plumbnet/plumb/internal/netlinkerr"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// CheckHost reports the first thing wrong with the host end name of a
// pair plugged into the bridge of index bridgeIndex, and changes nothing:
// it exists (the error then wraps the lookup's, see netlinkerr), is a
// veth, has that bridge as master, and is up.
// Equivalent to reading: `ip -d link show NAME`.
func CheckHost(name string, bridgeIndex int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("host veth %q is missing: %w", name, err)
	}
	if _, ok := l.(*netlink.Veth); !ok {
		return fmt.Errorf("host end %q is a %s, not a veth", name, l.Type())
	}
	if l.Attrs().MasterIndex != bridgeIndex {
		return fmt.Errorf("host veth %q is not on the bridge (master index %d, want %d)", name, l.Attrs().MasterIndex, bridgeIndex)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("host veth %q is down", name)
	}
	return nil
}

// PeerCheck is what CheckPeer expects of the peer side.
type PeerCheck struct {
	Name   string           // interface name inside the namespace
	MAC    net.HardwareAddr // nil: any
	Addrs  []netip.Prefix   // each on the interface, with its prefix length
	Routes []Route          // each in the main table
}

// Route is a route CheckPeer expects in the main table.
type Route struct {
	Dst     netip.Prefix // 0.0.0.0/0 or ::/0 for the default route
	Gateway netip.Addr   // invalid: any gateway, or none
}

// CheckPeer reports the first thing that differs from want inside ns, and
// changes nothing: the interface want.Name exists and is up, has the MAC
// want.MAC when one is given, has each address of want.Addrs, and the main
// table has each route of want.Routes (to its destination, via its gateway
// when one is given). IPv4 and IPv6 alike.
//
// Equivalent to reading:
//
//	ip -n NS link show NAME
//	ip -n NS addr show dev NAME
//	ip -n NS route show table main; ip -n NS -6 route show table main
func CheckPeer(ns *NS, want PeerCheck) error {
	h, err := ns.rtnl()
	if err != nil {
		return err
	}
	l, err := h.LinkByName(want.Name)
	if err != nil {
		return fmt.Errorf("interface %q is missing in netns %s: %w", want.Name, ns.path, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("interface %q in netns %s is down", want.Name, ns.path)
	}
	if want.MAC != nil && !bytes.Equal(l.Attrs().HardwareAddr, want.MAC) {
		return fmt.Errorf("interface %q in netns %s has MAC %s, want %s", want.Name, ns.path, l.Attrs().HardwareAddr, want.MAC)
	}
	if len(want.Addrs) > 0 {
		addrs, err := netlinkerr.Dump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return fmt.Errorf("listing the addresses of %q in netns %s: %w", want.Name, ns.path, err)
		}
		for _, p := range want.Addrs {
			if !hasAddr(addrs, p) {
				return fmt.Errorf("interface %q in netns %s lacks address %s", want.Name, ns.path, p)
			}
		}
	}
	for _, r := range want.Routes {
		ok, err := hasRoute(h, r)
		if err != nil {
			return fmt.Errorf("listing routes in netns %s: %w", ns.path, err)
		}
		if ok {
			continue
		}
		if r.Gateway.IsValid() {
			return fmt.Errorf("netns %s lacks the route to %s via %s", ns.path, r.Dst, r.Gateway)
		}
		return fmt.Errorf("netns %s lacks the route to %s", ns.path, r.Dst)
	}
	return nil
}

// hasAddr reports whether addrs hold p, with p's prefix length.
func hasAddr(addrs []netlink.Addr, p netip.Prefix) bool {
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if ok && netip.PrefixFrom(ip.Unmap(), ones) == p {
			return true
		}
	}
	return false
}

// hasRoute reports whether the main table behind h has a route to r.Dst,
// via r.Gateway when it is valid (on any of its next hops).
func hasRoute(h *netlink.Handle, r Route) (bool, error) {
	family := netlink.FAMILY_V4
	if r.Dst.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := netlinkerr.Dump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return false, err
	}
	want := r.Dst.Masked()
	for _, x := range routes {
		if routeDst(x, want.Addr().BitLen()) != want {
			continue
		}
		if !r.Gateway.IsValid() || sameAddr(x.Gw, r.Gateway) {
			return true, nil
		}
		for _, hop := range x.MultiPath {
			if sameAddr(hop.Gw, r.Gateway) {
				return true, nil
			}
		}
	}
	return false, nil
}

// routeDst is x's destination; a nil one is the default route of a family
// of bits-long addresses.
func routeDst(x netlink.Route, bits int) netip.Prefix {
	if x.Dst == nil {
		if bits == 128 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	a, _ := netip.AddrFromSlice(x.Dst.IP)
	ones, _ := x.Dst.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones).Masked()
}

// sameAddr reports whether ip is a.
func sameAddr(ip net.IP, a netip.Addr) bool {
	b, ok := netip.AddrFromSlice(ip)
	return ok && b.Unmap() == a
}

// HasRoute reports whether the main table of the namespace has a route to
// r.Dst, via r.Gateway when it is valid. Equivalent to reading:
// `ip -n NS route show table main DST`.
func (n *NS) HasRoute(r Route) (bool, error) {
	h, err := n.rtnl()
	if err != nil {
		return false, err
	}
	ok, err := hasRoute(h, r)
	if err != nil {
		return false, fmt.Errorf("listing routes in network namespace %s: %w", n.path, err)
	}
	return ok, nil
}
