package veth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/sysctl"
)

// Pair describes a veth pair to create.
type Pair struct {
	HostName    string           // host-side name, at most 15 bytes
	PeerName    string           // name inside the namespace, e.g. eth0
	PeerMAC     net.HardwareAddr // MAC of the peer; nil lets the kernel pick
	MTU         int              // both ends; 0 keeps the kernel default
	MasterIndex int              // bridge the host end is plugged into
	NetNS       netns.NsHandle   // namespace the peer is created in
}

// ErrBridgeFull is returned when the bridge has no port left: a Linux
// bridge holds at most 1023 ports.
var ErrBridgeFull = errors.New("network full: a bridge holds at most 1023 endpoints")

// Create creates the pair with the peer directly inside p.NetNS, turns
// IPv6 off on the host end before it comes up (an IPv4 network needs no
// link-local route per port in the host's table, which made attach slower
// as networks grew), plugs it into the bridge and brings it up. On error
// nothing is left behind, and a pair of that name that already existed is
// not touched.
//
// Equivalent to:
//
//	ip link add HOST mtu MTU type veth peer name PEER address MAC mtu MTU netns NS
//	sysctl -w net.ipv6.conf.HOST.disable_ipv6=1 net.ipv6.conf.HOST.accept_ra=0
//	ip link set HOST master BRIDGE up
func Create(p Pair) error {
	la := netlink.NewLinkAttrs()
	la.Name = p.HostName
	la.MTU = p.MTU
	v := &netlink.Veth{
		LinkAttrs:        la,
		PeerName:         p.PeerName,
		PeerHardwareAddr: p.PeerMAC,
		PeerNamespace:    netlink.NsFd(p.NetNS),
		PeerTxQLen:       -1,
	}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("creating veth %q (peer %q): %w", p.HostName, p.PeerName, err)
	}
	fail := func(err error) error {
		_ = Delete(p.HostName)
		return err
	}
	if err := sysctl.DisableIPv6(p.HostName); err != nil {
		return fail(err)
	}
	if err := sysctl.DisableAcceptRA(p.HostName); err != nil {
		return fail(err)
	}
	if p.MasterIndex != 0 {
		if err := netlink.LinkSetMasterByIndex(v, p.MasterIndex); err != nil {
			if errors.Is(err, unix.EXFULL) {
				err = ErrBridgeFull
			}
			return fail(fmt.Errorf("plugging veth %q into the bridge: %w", p.HostName, err))
		}
	}
	if err := netlink.LinkSetUp(v); err != nil {
		return fail(fmt.Errorf("bringing %q up: %w", p.HostName, err))
	}
	return nil
}

// Delete removes the pair by its host end; the peer goes with it. A pair
// that is already gone is success. Equivalent to: `ip link del HOST`.
func Delete(hostName string) error {
	link, err := netlink.LinkByName(hostName)
	if err == nil {
		err = netlink.LinkDel(link)
	}
	if err == nil || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	return fmt.Errorf("deleting veth %q: %w", hostName, err)
}

// RetiredPrefix starts the name of a pair Retire took out of service: the
// prefix and the link's own index, which fits the 15 bytes of an interface
// name for any index (at most 10 digits).
const RetiredPrefix = "pgone"

// Retired is a pair Retire took out of service, for DeleteRetired.
type Retired struct {
	Name  string // the host end's name now, RetiredName of its index
	Index int    // the host end's index
}

// RetiredName is the name Retire gives the link with index idx.
func RetiredName(idx int) string { return RetiredPrefix + strconv.Itoa(idx) }

// IsRetired reports whether l is a veth end that Retire renamed: named
// RetiredName of its own index.
func IsRetired(l netlink.Link) bool {
	_, ok := l.(*netlink.Veth)
	return ok && l.Attrs().Name == RetiredName(l.Attrs().Index)
}

// Retire takes the pair whose host end is hostName out of service at once,
// so that its deletion, which costs the kernel 15-30 ms of RCU grace
// periods, can happen later and elsewhere (DeleteRetired). Both ends go
// down, which cuts the namespace off, and both are renamed (RetiredName),
// which frees the names for a new pair at once: the same target can be
// attached again before the old pair is gone. The peer is renamed only
// when peerNS is an open handle (not netns.None()) and peerName is still
// this pair's end. A pair that is gone already returns nil. When the host
// end is retired but the peer step fails, the Retired is returned with the
// error: deleting it still removes both ends.
//
// Equivalent to:
//
//	ip link set HOST down; ip link set HOST name pgoneIDX
//	ip -n NS link set PEER down; ip -n NS link set PEER name pgonePIDX
func Retire(hostName string, peerNS netns.NsHandle, peerName string) (*Retired, error) {
	link, err := netlink.LinkByName(hostName)
	if err != nil {
		if gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("finding veth %q: %w", hostName, err)
	}
	idx := link.Attrs().Index
	tomb := RetiredName(idx)
	if err := netlink.LinkSetDown(link); err != nil {
		if gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("taking veth %q down: %w", hostName, err)
	}
	if err := netlink.LinkSetName(link, tomb); err != nil {
		if gone(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("renaming veth %q: %w", hostName, err)
	}
	r := &Retired{Name: tomb, Index: idx}
	if int(peerNS) <= 0 || peerName == "" {
		return r, nil
	}
	h, err := netlink.NewHandleAt(peerNS, unix.NETLINK_ROUTE)
	if err != nil {
		return r, fmt.Errorf("opening netlink in the namespace of %q: %w", peerName, err)
	}
	defer h.Close()
	peer, err := h.LinkByName(peerName)
	if err != nil {
		if gone(err) {
			return r, nil
		}
		return r, fmt.Errorf("finding %q in the namespace: %w", peerName, err)
	}
	// Only the end of this pair: IFLA_LINK of a veth names its peer's index.
	if _, ok := peer.(*netlink.Veth); !ok || peer.Attrs().ParentIndex != idx {
		return r, nil
	}
	if err := h.LinkSetDown(peer); err != nil && !gone(err) {
		return r, fmt.Errorf("taking %q down in the namespace: %w", peerName, err)
	}
	if err := h.LinkSetName(peer, RetiredName(peer.Attrs().Index)); err != nil && !gone(err) {
		return r, fmt.Errorf("renaming %q in the namespace: %w", peerName, err)
	}
	return r, nil
}

// DeleteRetired deletes the pair r, if its host end still has index
// r.Index and name r.Name: a link made since under the same name is not
// touched. Equivalent to: `ip link del pgoneIDX`.
func DeleteRetired(r *Retired) error {
	link, err := netlink.LinkByIndex(r.Index)
	if err != nil || link.Attrs().Name != r.Name {
		return nil
	}
	if err := netlink.LinkDel(link); err != nil && !gone(err) {
		return fmt.Errorf("deleting veth %q: %w", r.Name, err)
	}
	return nil
}

// gone reports an error that says the link does not exist.
func gone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}

// Exists reports whether a link named hostName exists in the host namespace.
func Exists(hostName string) bool {
	_, err := netlink.LinkByName(hostName)
	return err == nil
}

// Peer is the configuration of the namespace end.
type Peer struct {
	Name    string       // interface name inside the namespace
	Addr    netip.Prefix // address with the subnet's length
	Gateway netip.Addr   // default route via this address; invalid for none
}

// Configure sets up the peer from inside its namespace, through the netlink
// handle h opened there (netlink.NewHandleAt): address, up, default route
// when a gateway is given, and loopback up.
//
// Equivalent to:
//
//	ip -n NS link set PEER addrgenmode none
//	ip -n NS addr add ADDR dev PEER
//	ip -n NS link set PEER up
//	ip -n NS route add default via GATEWAY dev PEER
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
	addr := &netlink.Addr{IPNet: prefixNet(p.Addr)}
	if err := h.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("adding %s to %q: %w", p.Addr, p.Name, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing %q up: %w", p.Name, err)
	}
	if p.Gateway.IsValid() {
		r := &netlink.Route{
			LinkIndex: link.Attrs().Index,
			Gw:        p.Gateway.AsSlice(),
			Scope:     netlink.SCOPE_UNIVERSE,
		}
		if err := h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding default route via %s on %q: %w", p.Gateway, p.Name, err)
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
	Names        map[string]bool
	DefaultRoute bool
}

// Inspect reads the interface names and default route of the namespace
// behind h. Equivalent to: `ip -n NS -o link; ip -n NS route show default`.
func Inspect(h *netlink.Handle) (Inside, error) {
	links, err := h.LinkList()
	if err != nil {
		return Inside{}, fmt.Errorf("listing interfaces in the namespace: %w", err)
	}
	in := Inside{Names: make(map[string]bool, len(links))}
	for _, l := range links {
		in.Names[l.Attrs().Name] = true
	}
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: nil, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return Inside{}, fmt.Errorf("listing routes in the namespace: %w", err)
	}
	in.DefaultRoute = len(routes) > 0
	return in, nil
}

// NextFreeName returns eth0, or the lowest ethN not in names.
func NextFreeName(names map[string]bool) string {
	for i := 0; ; i++ {
		n := "eth" + strconv.Itoa(i)
		if !names[n] {
			return n
		}
	}
}

// MACFromIP returns Docker's deterministic MAC for an IPv4 address:
// 02:42 followed by the four address bytes (02:42:ac:1e:00:02 for 172.30.0.2).
func MACFromIP(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// ValidName reports whether name can be an interface name: 1 to 15 bytes,
// no '/', ':', whitespace, and not "." or "..".
func ValidName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n\x00")
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
