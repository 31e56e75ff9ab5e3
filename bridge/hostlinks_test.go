package bridge

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestPrivilegedHostPrefixesOnLinks tells each prefix's link: the bridge's
// address and connected route, a route through it, and a blackhole route
// through no link.
func TestPrivilegedHostPrefixesOnLinks(t *testing.T) {
	inNS(t, func() error {
		idx, err := Ensure(Config{Name: "pbhost1", Gateway: netip.MustParsePrefix("10.79.2.1/24")})
		if err != nil {
			return err
		}
		if err := netlink.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: prefixNet(netip.MustParsePrefix("10.81.0.0/16"))}); err != nil {
			return err
		}
		if err := netlink.RouteAdd(&netlink.Route{Type: unix.RTN_BLACKHOLE, Dst: prefixNet(netip.MustParsePrefix("10.82.0.0/16"))}); err != nil {
			return err
		}
		ps, err := HostPrefixesOnLinks()
		if err != nil {
			return err
		}
		for _, want := range []HostPrefix{
			{Prefix: netip.MustParsePrefix("10.79.2.0/24"), Link: "pbhost1", Addr: netip.MustParseAddr("10.79.2.1")},
			{Prefix: netip.MustParsePrefix("10.79.2.0/24"), Link: "pbhost1"},
			{Prefix: netip.MustParsePrefix("10.81.0.0/16"), Link: "pbhost1"},
			{Prefix: netip.MustParsePrefix("10.82.0.0/16")},
		} {
			if !slices.Contains(ps, want) {
				return fmt.Errorf("prefixes %+v lack %+v", ps, want)
			}
		}
		return Delete("pbhost1")
	})
}
