package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestPrivilegedHostPrefixesAndDefaultMTU reads an empty namespace, then
// one with an interface, a route and a default route.
func TestPrivilegedHostPrefixesAndDefaultMTU(t *testing.T) {
	inNS(t, func() error {
		ps, err := HostPrefixes()
		if err != nil || len(ps) != 0 {
			return fmt.Errorf("prefixes of an empty namespace (loopback left out): %v %v", ps, err)
		}
		if mtu := DefaultMTU(); mtu != 1500 {
			return fmt.Errorf("mtu without a default route: %d, want 1500", mtu)
		}
		idx, err := Ensure(Config{Name: "pbhost0", Gateway: netip.MustParsePrefix("10.79.1.2/24"), MTU: 1400})
		if err != nil {
			return err
		}
		for _, dst := range []string{"0.0.0.0/0", "10.80.0.0/16"} {
			r := &netlink.Route{LinkIndex: idx, Dst: prefixNet(netip.MustParsePrefix(dst)), Gw: netip.MustParseAddr("10.79.1.1").AsSlice()}
			if err := netlink.RouteAdd(r); err != nil {
				return fmt.Errorf("adding route to %s: %v", dst, err)
			}
		}
		if mtu := DefaultMTU(); mtu != 1400 {
			return fmt.Errorf("mtu behind the default route: %d, want 1400", mtu)
		}
		ps, err = HostPrefixes()
		if err != nil {
			return err
		}
		for _, want := range []string{"10.79.1.0/24", "10.80.0.0/16"} {
			if !slices.Contains(ps, netip.MustParsePrefix(want)) {
				return fmt.Errorf("prefixes %v lack %s", ps, want)
			}
		}
		if slices.Contains(ps, netip.MustParsePrefix("0.0.0.0/0")) {
			return fmt.Errorf("prefixes %v hold the default route", ps)
		}
		return Delete("pbhost0")
	})
}

// prefixNet is p as a net.IPNet, for netlink.
func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
