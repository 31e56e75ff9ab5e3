package bridge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/netlinkerr"
	"github.com/plumbnet/plumb/internal/sysctl"
)

// ErrNotFound is returned by Check when there is no interface of the
// bridge's name.
var ErrNotFound = errors.New("does not exist")

// Check reports the first thing that keeps the bridge from being what
// Ensure(c) makes, and changes nothing: the interface c.Name exists
// (ErrNotFound), is a bridge (ErrNotBridge), is up, has the address
// c.Gateway when one is given, has the MTU c.MTU when one is given, and has
// route_localnet on when c.RouteLocalnet. It returns nil when all hold.
//
// Equivalent to reading:
//
//	ip -d link show NAME
//	ip addr show dev NAME
//	sysctl net.ipv4.conf.NAME.route_localnet
func Check(c Config) error {
	link, err := netlink.LinkByName(c.Name)
	if netlinkerr.IsNotFound(err) {
		return fmt.Errorf("bridge %q %w", c.Name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("looking up bridge %q: %w", c.Name, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return fmt.Errorf("interface %q %w", c.Name, ErrNotBridge)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("bridge %q is down", c.Name)
	}
	for _, gw := range []netip.Prefix{c.Gateway, c.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		ok, err := hasAddr(link, gw)
		if err != nil {
			return fmt.Errorf("listing the addresses of bridge %q: %w", c.Name, err)
		}
		if !ok {
			return fmt.Errorf("bridge %q lacks its gateway address %s", c.Name, gw)
		}
	}
	if c.MTU > 0 && link.Attrs().MTU != c.MTU {
		return fmt.Errorf("bridge %q has mtu %d, want %d", c.Name, link.Attrs().MTU, c.MTU)
	}
	if c.RouteLocalnet {
		v, err := sysctl.Get("net/ipv4/conf/" + c.Name + "/route_localnet")
		if err != nil {
			return err
		}
		if v != "1" {
			return fmt.Errorf("bridge %q has route_localnet off", c.Name)
		}
	}
	return nil
}

// hasAddr reports whether link has the address p, with p's prefix length.
// It asks for p's family only: the kernel dumps every address of that
// family on the host and the link's are picked out here, and a host with
// a thousand veths has a thousand IPv6 link-local addresses.
func hasAddr(link netlink.Link, p netip.Prefix) (bool, error) {
	family := netlink.FAMILY_V4
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := netlinkerr.Dump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, family) })
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if ok && netip.PrefixFrom(ip.Unmap(), ones) == p {
			return true, nil
		}
	}
	return false, nil
}
