package network

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/ip4"
)

// hostPrefixes returns the IPv4 prefixes the host already uses: the
// destinations of its routes (but not the default route) and the subnets of
// its addresses. Equivalent to: `ip -4 route show; ip -4 addr show`.
func hostPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 0}, 0)
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
		if a, ok := netip.AddrFromSlice(r.Dst.IP.To4()); ok {
			out = append(out, netip.PrefixFrom(a, ones).Masked())
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("listing host addresses: %w", err)
	}
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && !ip.IsLoopback() {
			out = append(out, netip.PrefixFrom(ip, ones).Masked())
		}
	}
	return out, nil
}

// defaultRouteMTU is the MTU of the interface behind the host's default
// route, or 1500 when there is none.
func defaultRouteMTU() int {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{}, 0)
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

// candidatePools are the private ranges plumb carves default /24 subnets from,
// in order: away from Docker's default pools (172.17-172.29 and 192.168/16)
// first, so the two rarely meet.
var candidatePools = []netip.Prefix{
	netip.MustParsePrefix("172.30.0.0/15"),
	netip.MustParsePrefix("10.210.0.0/15"),
	netip.MustParsePrefix("10.212.0.0/14"),
}

// pickSubnet returns the first /24 of candidatePools that overlaps none of
// used. It is pure; Create feeds it the host's and plumb's prefixes.
func pickSubnet(used []netip.Prefix) (netip.Prefix, error) {
	for _, pool := range candidatePools {
		base := ip4.ToUint32(pool.Addr())
		count := uint32(1) << (24 - pool.Bits())
		for i := uint32(0); i < count; i++ {
			p := netip.PrefixFrom(ip4.FromUint32(base+i<<8), 24)
			if !overlapsAny(p, used) {
				return p, nil
			}
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 left in the default pools: give --subnet")
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}
