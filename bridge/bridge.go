package bridge

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/netlinkerr"
	"github.com/plumbnet/plumb/internal/sysctl"
)

// ErrNotBridge is returned when a link of the requested name exists but is
// not a bridge: plumb never takes over someone else's interface.
var ErrNotBridge = errors.New("exists and is not a bridge")

// Config describes a bridge.
type Config struct {
	Name    string       // interface name, at most 15 bytes
	Gateway netip.Prefix // gateway address with the subnet's length, e.g. 172.30.0.1/24
	// Gateway6 is the IPv6 gateway address with the subnet's length, e.g.
	// fd12:3456:789a::1/64; invalid for none (an IPv4-only network, or
	// the isolated gateway mode). It is added without DAD, usable at once.
	Gateway6 netip.Prefix
	MTU      int // 0 keeps the kernel default
	// RouteLocalnet lets the host reach published ports on localhost: a
	// connection to 127.0.0.1 DNATed to a container leaves through the
	// bridge with a loopback source, which the kernel drops as martian
	// unless route_localnet is set on the bridge. The caller guards the
	// bridge first (firewall.LocalnetGuard) so that containers cannot use
	// it to reach the host's loopback services.
	RouteLocalnet bool
}

// Ensure makes the bridge exist, up, with the gateway address, the MTU and
// IPv6 router advertisements off. It is safe to call twice and repairs a
// bridge that lost its address or went down. It returns the bridge's index.
//
// Equivalent to:
//
//	ip link add NAME address MAC mtu MTU type bridge
//	sysctl -w net.ipv6.conf.NAME.accept_ra=0
//	sysctl -w net.ipv4.conf.NAME.route_localnet=1   (RouteLocalnet)
//	ip addr replace GATEWAY dev NAME
//	ip addr replace GATEWAY6 dev NAME nodad
//	ip link set NAME up
func Ensure(c Config) (int, error) {
	link, err := netlink.LinkByName(c.Name)
	switch {
	case err == nil:
		if _, ok := link.(*netlink.Bridge); !ok {
			return 0, fmt.Errorf("interface %q %w", c.Name, ErrNotBridge)
		}
	case netlinkerr.IsNotFound(err):
		la := netlink.NewLinkAttrs()
		la.Name = c.Name
		la.MTU = c.MTU
		// A MAC of its own: otherwise the bridge takes the lowest MAC of
		// its ports and the kernel walks every port on each port added
		// (br_stp_recalculate_bridge_id), which slowed attach as the
		// network filled. Docker sets one for the same reason.
		la.HardwareAddr = MAC(c.Name)
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return 0, fmt.Errorf("creating bridge %q: %w", c.Name, err)
		}
		if link, err = netlink.LinkByName(c.Name); err != nil {
			return 0, fmt.Errorf("finding new bridge %q: %w", c.Name, err)
		}
		// Set the MTU once more, as a user would: an MTU set by the user
		// stops the kernel re-deriving it from every port on each port
		// added (br_mtu_auto_adjust).
		if c.MTU > 0 {
			if err := netlink.LinkSetMTU(link, c.MTU); err != nil {
				_ = netlink.LinkDel(link)
				return 0, fmt.Errorf("setting mtu %d on %q: %w", c.MTU, c.Name, err)
			}
		}
	default:
		return 0, fmt.Errorf("looking up bridge %q: %w", c.Name, err)
	}
	if c.MTU > 0 && link.Attrs().MTU != c.MTU {
		if err := netlink.LinkSetMTU(link, c.MTU); err != nil {
			return 0, fmt.Errorf("setting mtu %d on %q: %w", c.MTU, c.Name, err)
		}
	}
	if err := sysctl.DisableAcceptRA(c.Name); err != nil {
		return 0, err
	}
	if c.RouteLocalnet {
		if err := sysctl.Set("net/ipv4/conf/"+c.Name+"/route_localnet", "1"); err != nil {
			return 0, err
		}
	}
	for _, gw := range []netip.Prefix{c.Gateway, c.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{
			IP:   gw.Addr().AsSlice(),
			Mask: net.CIDRMask(gw.Bits(), gw.Addr().BitLen()),
		}}
		if gw.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrReplace(link, addr); err != nil {
			return 0, fmt.Errorf("adding %s to %q: %w", gw, c.Name, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return 0, fmt.Errorf("bringing %q up: %w", c.Name, err)
		}
	}
	return link.Attrs().Index, nil
}

// MAC is the address Ensure gives bridge name: locally administered,
// unicast, derived from the name, stable across re-creation.
func MAC(name string) net.HardwareAddr {
	h := sha256.Sum256([]byte("plumb-bridge/" + name))
	return net.HardwareAddr{0x02, h[0], h[1], h[2], h[3], h[4]}
}

// Index returns the index of the bridge name, failing with ErrNotBridge when
// name is some other kind of interface.
func Index(name string) (int, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("bridge %q: %w", name, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return 0, fmt.Errorf("interface %q %w", name, ErrNotBridge)
	}
	return link.Attrs().Index, nil
}

// Exists reports whether a bridge named name exists: an interface of that
// name that is not a bridge does not count. Equivalent to:
// `ip link show NAME type bridge`.
func Exists(name string) bool {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return false
	}
	_, ok := link.(*netlink.Bridge)
	return ok
}

// Delete removes the bridge. A bridge that is already gone is success; an
// interface of that name that is not a bridge is left alone.
// Equivalent to: `ip link del NAME type bridge`.
func Delete(name string) error {
	link, err := netlink.LinkByName(name)
	if netlinkerr.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up bridge %q: %w", name, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return fmt.Errorf("interface %q %w: not deleting it", name, ErrNotBridge)
	}
	if err := netlink.LinkDel(link); err != nil && !netlinkerr.IsNotFound(err) {
		return fmt.Errorf("deleting bridge %q: %w", name, err)
	}
	return nil
}

// IsolatePort marks the bridge port ifname as isolated: it can then talk to
// the bridge itself (the gateway) but not to another isolated port. plumb
// uses it for --icc=false, which then holds whether or not br_netfilter is
// loaded. Equivalent to: `ip link set IFNAME type bridge_slave isolated on`.
func IsolatePort(ifname string) error {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("isolating port %q: %w", ifname, err)
	}
	if err := netlink.LinkSetIsolated(link, true); err != nil {
		return fmt.Errorf("isolating port %q: %w", ifname, err)
	}
	return nil
}

// SetHairpin turns hairpin mode on for the bridge port ifname, so that a
// frame may leave through the port it came in by. plumb sets it on the port
// of an endpoint with published ports: when br_netfilter hands bridged
// traffic to iptables, a container's connection to its own published port
// is DNATed back to itself while still being bridged. Equivalent to:
// `ip link set IFNAME type bridge_slave hairpin on`.
func SetHairpin(ifname string) error {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("setting hairpin mode on port %q: %w", ifname, err)
	}
	if err := netlink.LinkSetHairpin(link, true); err != nil {
		return fmt.Errorf("setting hairpin mode on port %q: %w", ifname, err)
	}
	return nil
}
