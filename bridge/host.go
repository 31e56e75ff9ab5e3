package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/plumbnet/plumb/internal/netlinkerr"
	"golang.org/x/sys/unix"

	"github.com/vishvananda/netlink"
)

// HostPrefixes returns the IPv4 prefixes the host already uses, for the
// choice of a new network's subnet: the destinations of the routes of the
// main table (but not the default route) and the subnets of the addresses
// (but not loopback's), each masked. Equivalent to:
// `ip -4 route show table main; ip -4 addr show`.
func HostPrefixes() ([]netip.Prefix, error) {
	ps, err := HostPrefixesOnLinks()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = p.Prefix
	}
	return out, nil
}

// HostPrefix is one prefix the host uses and where: a route's destination
// or an address's subnet, masked.
type HostPrefix struct {
	Prefix netip.Prefix
	// Link is the name of the link the route or address is on; "" for a
	// route through no single link (blackhole, unreachable, multipath).
	Link string
	// Addr is the address whose subnet Prefix is; invalid for a route.
	Addr netip.Addr
}

// HostPrefixesOnLinks is HostPrefixes with the link of each prefix, so
// that a caller can tell its own bridges' prefixes from the rest.
// Equivalent to: `ip -4 route show table main; ip -4 addr show`.
func HostPrefixesOnLinks() ([]HostPrefix, error) { return hostPrefixes(netlink.FAMILY_V4) }

// HostPrefixes6 is HostPrefixes for IPv6, for the choice of a network's
// IPv6 subnet: the destinations of the host's IPv6 routes and the subnets
// of its IPv6 addresses, but not the default route, loopback, link-local
// or multicast ones. Equivalent to: `ip -6 route show table all; ip -6 addr show`.
func HostPrefixes6() ([]netip.Prefix, error) {
	ps, err := hostPrefixes(netlink.FAMILY_V6)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if a := p.Prefix.Addr(); !a.IsLinkLocalUnicast() && !a.IsMulticast() && !a.IsLoopback() {
			out = append(out, p.Prefix)
		}
	}
	return out, nil
}

// hostPrefixes lists the prefixes of family's routes (any table, not the
// default route) and addresses (not loopback), masked.
func hostPrefixes(family int) ([]HostPrefix, error) {
	var out []HostPrefix
	names := map[int]string{}
	name := func(idx int) string {
		if n, ok := names[idx]; ok || idx == 0 {
			return n
		}
		if l, err := netlink.LinkByIndex(idx); err == nil {
			names[idx] = l.Attrs().Name
		}
		return names[idx]
	}
	addrOf := func(ip net.IP) (netip.Addr, bool) {
		if family == netlink.FAMILY_V4 {
			ip = ip.To4()
		}
		a, ok := netip.AddrFromSlice(ip)
		return a, ok && a.Is4() == (family == netlink.FAMILY_V4)
	}
	routes, err := netlinkerr.Dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(family, &netlink.Route{Table: 0}, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("listing host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 {
			continue
		}
		if a, ok := addrOf(r.Dst.IP); ok {
			out = append(out, HostPrefix{Prefix: netip.PrefixFrom(a, ones).Masked(), Link: name(r.LinkIndex)})
		}
	}
	addrs, err := netlinkerr.Dump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, family) })
	if err != nil {
		return nil, fmt.Errorf("listing host addresses: %w", err)
	}
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		if ip, ok := addrOf(a.IP); ok && !ip.IsLoopback() {
			out = append(out, HostPrefix{Prefix: netip.PrefixFrom(ip, ones).Masked(), Link: name(a.LinkIndex), Addr: ip})
		}
	}
	return out, nil
}

// DefaultMTU returns the MTU of the interface behind the host's IPv4
// default route (the first one that names an interface), or 1500 when
// there is none or it cannot be read: the MTU a new network gets unless
// told otherwise. Equivalent to:
// `ip link show $(ip -4 route show default | awk '{print $5; exit}')`.
func DefaultMTU() int {
	routes, err := netlinkerr.Dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{}, 0)
	})
	if err != nil {
		return 1500
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if r.LinkIndex == 0 {
			continue
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU > 0 {
			return l.Attrs().MTU
		}
	}
	return 1500
}

// RADefaultRouteLinks names the links that hold an IPv6 default route
// learned from a router advertisement (proto ra): a host that turns IPv6
// forwarding on stops taking advertisements on a link whose accept_ra is
// 1, and loses such a route when it expires. Equivalent to:
// `ip -6 route show default proto ra`.
func RADefaultRouteLinks() ([]string, error) {
	routes, err := netlinkerr.Dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("listing IPv6 routes: %w", err)
	}
	var out []string
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if r.Protocol != unix.RTPROT_RA || r.LinkIndex == 0 {
			continue
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && !slices.Contains(out, l.Attrs().Name) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}
