package veth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/plumbnet/plumb/internal/netlinkerr"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Peer is the configuration of the namespace end.
type Peer struct {
	Name    string       // interface name inside the namespace
	Addr    netip.Prefix // IPv4 address with the subnet's length; invalid for none
	Gateway netip.Addr   // default route via this address; invalid for none
	// Addr6 is the IPv6 address with the subnet's length, added without
	// DAD (usable at once); invalid for none. Gateway6 is the IPv6
	// default route's next hop; invalid for none.
	Addr6    netip.Prefix
	Gateway6 netip.Addr
}

// Configure sets up the peer from inside its namespace, through the netlink
// handle h opened there (netlink.NewHandleAt): addresses, up, default
// routes when gateways are given, and loopback up. With an IPv6 address,
// the caller has turned router advertisements off on the peer first
// (NS.Configure does): no SLAAC address and no default route from a
// neighbour's advertisement (CVE-2020-13401).
//
// Equivalent to:
//
//	ip -n NS link set PEER addrgenmode none
//	ip -n NS addr add ADDR dev PEER
//	ip -n NS addr add ADDR6 dev PEER nodad
//	ip -n NS link set PEER up
//	ip -n NS route add default via GATEWAY dev PEER
//	ip -n NS -6 route add default via GATEWAY6 dev PEER
//	ip -n NS link set lo up
func Configure(h *netlink.Handle, p Peer) error {
	link, err := h.LinkByName(p.Name)
	if err != nil {
		return fmt.Errorf("finding %q in the namespace: %w", p.Name, err)
	}
	// No IPv6 link-local address on an IPv4 network, as Docker does: no
	// DAD, router solicitations or MLD reports, which the bridge floods to
	// every port and which made each attach cost more as a network filled.
	if err := h.LinkSetIP6AddrGenMode(link, addrGenModeNone); err != nil && !ipv6Off(err) {
		return fmt.Errorf("turning off IPv6 addresses on %q: %w", p.Name, err)
	}
	for _, a := range []netip.Prefix{p.Addr, p.Addr6} {
		if !a.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: prefixNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("adding %s to %q: %w", a, p.Name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing %q up: %w", p.Name, err)
	}
	for _, gw := range []netip.Addr{p.Gateway, p.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		r := &netlink.Route{
			LinkIndex: link.Attrs().Index,
			Gw:        gw.AsSlice(),
			Scope:     netlink.SCOPE_UNIVERSE,
		}
		if err := h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding default route via %s on %q: %w", gw, p.Name, err)
		}
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo in the namespace: %w", err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("bringing lo up: %w", err)
		}
	}
	return nil
}

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE: no IPv6 address is generated.
const addrGenModeNone = 1

// ipv6Off reports an error that only says IPv6 is not there to configure.
func ipv6Off(err error) bool {
	return errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EACCES)
}

// Inside lists what the namespace holds that plumb's placement decisions
// depend on: the interface names, and whether a default route exists.
type Inside struct {
	Names         map[string]bool
	DefaultRoute  bool // an IPv4 default route
	DefaultRoute6 bool // an IPv6 default route
}

// Inspect reads the interface names and default routes of the namespace
// behind h. Equivalent to:
// `ip -n NS -o link; ip -n NS route show default; ip -n NS -6 route show default`.
func Inspect(h *netlink.Handle) (Inside, error) {
	links, err := netlinkerr.Dump(h.LinkList)
	if err != nil {
		return Inside{}, fmt.Errorf("listing interfaces in the namespace: %w", err)
	}
	in := Inside{Names: make(map[string]bool, len(links))}
	for _, l := range links {
		in.Names[l.Attrs().Name] = true
	}
	// One dump of both families' default routes: as cheap as the IPv4
	// one alone, in a namespace's small table.
	routes, err := netlinkerr.Dump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return Inside{}, fmt.Errorf("listing routes in the namespace: %w", err)
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		switch r.Family {
		case netlink.FAMILY_V4:
			in.DefaultRoute = true
		case netlink.FAMILY_V6:
			in.DefaultRoute6 = true
		}
	}
	return in, nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
