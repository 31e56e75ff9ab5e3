package overlay

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/netlinkerr"
)

// DefaultUnderlay is the address a host's VTEP uses when none is given:
// the preferred source of the IPv4 default route when it names one, else
// the first global IPv4 address of the link the default route goes out of.
// Equivalent to: `ip -4 route show default`, then `ip -4 -o addr show dev
// DEV scope global`.
func DefaultUnderlay(h *netlink.Handle) (netip.Addr, error) {
	routes, err := netlinkerr.Dump(func() ([]netlink.Route, error) { return h.RouteList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing routes to find the underlay address: %w", err)
	}
	for _, r := range routes {
		if !isDefault(r) || r.LinkIndex == 0 {
			continue
		}
		if src, ok := netip.AddrFromSlice(r.Src); ok && src.Unmap().IsGlobalUnicast() {
			return src.Unmap(), nil
		}
		link, err := h.LinkByIndex(r.LinkIndex)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("finding the default route's link: %w", err)
		}
		addrs, err := netlinkerr.Dump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_V4) })
		if err != nil {
			return netip.Addr{}, fmt.Errorf("listing the addresses of %s: %w", link.Attrs().Name, err)
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap().IsGlobalUnicast() {
				return ip.Unmap(), nil
			}
		}
		return netip.Addr{}, fmt.Errorf("the default route's link %s has no IPv4 address", link.Attrs().Name)
	}
	return netip.Addr{}, errors.New("no IPv4 default route to take the underlay address from")
}

// isDefault: 0.0.0.0/0, which netlink gives as no Dst or a zero-length one.
func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0
}
