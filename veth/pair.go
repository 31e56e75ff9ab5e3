package veth

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/netlinkerr"
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

// MaxBridgePorts is how many ports a Linux bridge holds: port numbers have
// 10 bits (BR_MAX_PORTS is 1024) and 0 is never used. A pair past it fails
// with ErrBridgeFull.
const MaxBridgePorts = 1023

// ErrBridgeFull is returned when the bridge has no port left (MaxBridgePorts).
var ErrBridgeFull = fmt.Errorf("network full: a bridge holds at most %d endpoints", MaxBridgePorts)

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

// ErrNotVeth is returned when a link plumb would delete or retire by name
// is not a veth: plumb never deletes someone else's interface, whatever a
// record says.
var ErrNotVeth = errors.New("is not a veth")

// Delete removes the pair by its host end; the peer goes with it. A pair
// that is already gone is success; a link of that name that is not a veth
// is left alone (ErrNotVeth). Equivalent to: `ip link del HOST type veth`.
func Delete(hostName string) error {
	link, err := netlink.LinkByName(hostName)
	if err == nil {
		if _, ok := link.(*netlink.Veth); !ok {
			return fmt.Errorf("deleting veth %q: the link %w, not deleting it", hostName, ErrNotVeth)
		}
		err = netlink.LinkDel(link)
	}
	if err == nil || netlinkerr.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("deleting veth %q: %w", hostName, err)
}

// Exists reports whether a link named hostName exists in the host namespace.
func Exists(hostName string) bool {
	_, err := netlink.LinkByName(hostName)
	return err == nil
}
