package overlay

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/name"
	"github.com/plumbnet/plumb/internal/netlinkerr"
)

// DefaultPort is the IANA VXLAN port, Docker's and flannel's default.
const DefaultPort = 4789

// Encapsulation overhead: outer IP + UDP (8) + VXLAN (8) + inner Ethernet (14).
const (
	overhead4 = 20 + 8 + 8 + 14
	overhead6 = 40 + 8 + 8 + 14
)

// maxVNI is the largest 24-bit VXLAN network identifier.
const maxVNI = 1<<24 - 1

var (
	// ErrNotOurs is returned when a link of the requested name exists but
	// is not a VXLAN device of the requested VNI: plumb never takes over
	// someone else's interface.
	ErrNotOurs = errors.New("exists and is not plumb's VXLAN device")
	// ErrNotVXLAN is returned when a device named for a VXLAN is another
	// kind of interface.
	ErrNotVXLAN = errors.New("is not a VXLAN device")
)

// VXLANName is the VXLAN device of network name: "vx-" and the same 12 hex
// digits of the name's SHA-256 as its bridge's "pb-" name, 15 bytes, the
// same for the same name on every host.
func VXLANName(network string) string {
	h := sha256.Sum256([]byte(network))
	return "vx-" + hex.EncodeToString(h[:6])
}

// Config describes the VXLAN device of one overlay network on one host.
type Config struct {
	Name   string     // interface name, at most 15 bytes (VXLANName)
	VNI    uint32     // VXLAN network identifier, 1 to 2^24-1, one per network
	Local  netip.Addr // this host's underlay address: the tunnels' source
	Port   int        // UDP port; 0 is DefaultPort (4789)
	MTU    int        // 0 is the MTU of the link holding Local, less 50 (70 over IPv6)
	Bridge string     // bridge to enslave the device to; "" for none
}

func (c Config) validate() error {
	switch {
	case len(c.Name) == 0 || len(c.Name) > 15 || !name.Token(c.Name):
		return fmt.Errorf("vxlan device name %q: want 1 to 15 of [A-Za-z0-9_.-]", c.Name)
	case c.VNI == 0 || c.VNI > maxVNI:
		return fmt.Errorf("vxlan %q: vni %d out of range 1-%d", c.Name, c.VNI, maxVNI)
	case !c.Local.IsValid() || c.Local.IsUnspecified() || c.Local.IsMulticast():
		return fmt.Errorf("vxlan %q: local address %v is not a unicast address", c.Name, c.Local)
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("vxlan %q: port %d out of range", c.Name, c.Port)
	case c.MTU < 0 || c.MTU > 0 && c.MTU < 68:
		return fmt.Errorf("vxlan %q: mtu %d below 68", c.Name, c.MTU)
	}
	return nil
}

func (c Config) port() int {
	if c.Port == 0 {
		return DefaultPort
	}
	return c.Port
}

// Ensure makes the VXLAN device exist with c's settings, learning off,
// answering ARP from its neighbour table (proxy), at the MTU, enslaved to
// c.Bridge with learning off on that port, and up. It returns the device's
// index. It is safe to call twice: a device that is already right is not
// written to at all (no netlink notification), and one that drifted (down,
// another master, another MTU, learning on) is repaired in place; moving
// it back from another master brings back none of the bridge's entries, so
// the caller adds its remotes again after an Ensure, as after a
// replacement (Remotes shows them without a VTEP until then). A device
// of that name and VNI whose fixed settings differ (local address, port,
// learning, proxy) is replaced: the new one has no remote entries, which
// the caller adds again (AddRemote is idempotent). A link of that name that
// is not a VXLAN device of that VNI is an error wrapping ErrNotOurs.
//
// Equivalent to:
//
//	ip link add NAME mtu MTU type vxlan id VNI local LOCAL dstport PORT nolearning proxy
//	ip link set NAME master BRIDGE
//	bridge link set dev NAME learning off
//	ip link set NAME up
func Ensure(h *netlink.Handle, c Config) (int, error) {
	if err := c.validate(); err != nil {
		return 0, err
	}
	if c.MTU == 0 {
		mtu, err := underlayMTU(h, c.Local)
		if err != nil {
			return 0, fmt.Errorf("vxlan %q: %w", c.Name, err)
		}
		c.MTU = mtu
	}
	link, err := ensureDevice(h, c)
	if err != nil {
		return 0, err
	}
	if err := repair(h, link, c); err != nil {
		return 0, err
	}
	return link.Attrs().Index, nil
}

// MTU is the MTU an overlay network over the underlay address local must
// use: the MTU of the link holding local, less the encapsulation (50 bytes
// over IPv4, 70 over IPv6). The network's bridge and endpoints take it, as
// Ensure with MTU 0 gives it to the VXLAN device. Equivalent to: `ip -o addr
// show to LOCAL`, then `ip link show DEV` and its mtu less 50.
func MTU(h *netlink.Handle, local netip.Addr) (int, error) { return underlayMTU(h, local) }

// underlayMTU is the MTU of the link holding local, less the encapsulation.
func underlayMTU(h *netlink.Handle, local netip.Addr) (int, error) {
	family, overhead := netlink.FAMILY_V4, overhead4
	if local.Is6() && !local.Is4In6() {
		family, overhead = netlink.FAMILY_V6, overhead6
	}
	addrs, err := netlinkerr.Dump(func() ([]netlink.Addr, error) { return h.AddrList(nil, family) })
	if err != nil {
		return 0, fmt.Errorf("listing addresses to find the underlay MTU: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == local.Unmap() {
			l, err := h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return 0, fmt.Errorf("finding the link holding %s: %w", local, err)
			}
			if mtu := l.Attrs().MTU - overhead; mtu >= 68 {
				return mtu, nil
			}
			return 0, fmt.Errorf("underlay %q mtu %d leaves no room for vxlan", l.Attrs().Name, l.Attrs().MTU)
		}
	}
	return 0, fmt.Errorf("local address %s is on no interface", local)
}

// ensureDevice finds the device, checks it is ours, and creates or
// replaces it when needed.
func ensureDevice(h *netlink.Handle, c Config) (netlink.Link, error) {
	link, err := h.LinkByName(c.Name)
	switch {
	case netlinkerr.IsNotFound(err):
		return create(h, c)
	case err != nil:
		return nil, fmt.Errorf("looking up vxlan %q: %w", c.Name, err)
	}
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		return nil, fmt.Errorf("interface %q (%s) %w", c.Name, link.Type(), ErrNotOurs)
	}
	if uint32(vx.VxlanId) != c.VNI {
		return nil, fmt.Errorf("vxlan %q has vni %d, not %d: it %w", c.Name, vx.VxlanId, c.VNI, ErrNotOurs)
	}
	if fixedMatch(vx, c) {
		return link, nil
	}
	if err := h.LinkDel(link); err != nil && !netlinkerr.IsNotFound(err) {
		return nil, fmt.Errorf("replacing vxlan %q with other settings: %w", c.Name, err)
	}
	return create(h, c)
}

// fixedMatch reports whether the settings a VXLAN device cannot change in
// place are those of c.
func fixedMatch(vx *netlink.Vxlan, c Config) bool {
	local, _ := netip.AddrFromSlice(vx.SrcAddr)
	return local.Unmap() == c.Local.Unmap() && vx.Port == c.port() &&
		!vx.Learning && vx.Proxy && len(vx.Group) == 0 && !vx.FlowBased
}

// create adds the device. A VNI already used by another device of the
// namespace is the kernel's EEXIST, reported with the VNI.
func create(h *netlink.Handle, c Config) (netlink.Link, error) {
	la := netlink.NewLinkAttrs()
	la.Name = c.Name
	la.MTU = c.MTU
	vx := &netlink.Vxlan{
		LinkAttrs: la,
		VxlanId:   int(c.VNI),
		SrcAddr:   c.Local.Unmap().AsSlice(),
		Port:      c.port(),
		Learning:  false, // every entry is static: nothing is learned from the wire
		Proxy:     true,  // ARP answered here from the neighbour table
		// UDP checksums: the kernel's defaults, as Docker and flannel
		// leave them: none over IPv4 (RFC 7348), computed over IPv6.
	}
	if err := h.LinkAdd(vx); err != nil {
		return nil, fmt.Errorf("creating vxlan %q (vni %d, local %s, port %d): %w", c.Name, c.VNI, c.Local, c.port(), err)
	}
	link, err := h.LinkByName(c.Name)
	if err != nil {
		return nil, fmt.Errorf("finding new vxlan %q: %w", c.Name, err)
	}
	return link, nil
}

// repair sets the MTU, master, port learning and up state where they
// differ from c; it writes nothing when they match.
func repair(h *netlink.Handle, link netlink.Link, c Config) error {
	a := link.Attrs()
	if a.MTU != c.MTU {
		if err := h.LinkSetMTU(link, c.MTU); err != nil {
			return fmt.Errorf("setting mtu %d on vxlan %q: %w", c.MTU, c.Name, err)
		}
	}
	if err := ensureMaster(h, link, c); err != nil {
		return err
	}
	if a.Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(link); err != nil {
			return fmt.Errorf("bringing vxlan %q up: %w", c.Name, err)
		}
	}
	return nil
}

// ensureMaster enslaves the device to c.Bridge (or frees it when c.Bridge
// is empty) and turns learning off on the bridge port.
func ensureMaster(h *netlink.Handle, link netlink.Link, c Config) error {
	a := link.Attrs()
	if c.Bridge == "" {
		if a.MasterIndex == 0 {
			return nil
		}
		if err := h.LinkSetNoMaster(link); err != nil {
			return fmt.Errorf("freeing vxlan %q from its master: %w", c.Name, err)
		}
		return nil
	}
	br, err := h.LinkByName(c.Bridge)
	if err != nil {
		return fmt.Errorf("vxlan %q: bridge %q: %w", c.Name, c.Bridge, err)
	}
	if _, ok := br.(*netlink.Bridge); !ok {
		return fmt.Errorf("vxlan %q: interface %q is not a bridge", c.Name, c.Bridge)
	}
	if a.MasterIndex != br.Attrs().Index {
		if err := h.LinkSetMasterByIndex(link, br.Attrs().Index); err != nil {
			return fmt.Errorf("enslaving vxlan %q to %q: %w", c.Name, c.Bridge, err)
		}
	}
	pi, err := h.LinkGetProtinfo(link)
	if err != nil {
		return fmt.Errorf("reading bridge port flags of vxlan %q: %w", c.Name, err)
	}
	if pi.Learning {
		if err := h.LinkSetLearning(link, false); err != nil {
			return fmt.Errorf("turning learning off on bridge port %q: %w", c.Name, err)
		}
	}
	return nil
}

// Delete removes the VXLAN device and with it all its FDB and neighbour
// entries and the bridge's entries pointing at it. A device already gone is
// success; an interface of that name that is not a VXLAN device is left
// alone. Equivalent to: `ip link del NAME type vxlan`.
func Delete(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if netlinkerr.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up vxlan %q: %w", name, err)
	}
	if _, ok := link.(*netlink.Vxlan); !ok {
		return fmt.Errorf("interface %q %w: not deleting it", name, ErrNotVXLAN)
	}
	if err := h.LinkDel(link); err != nil && !netlinkerr.IsNotFound(err) {
		return fmt.Errorf("deleting vxlan %q: %w", name, err)
	}
	return nil
}

// device returns the VXLAN device name, failing with ErrNotVXLAN when name
// is another kind of interface.
func device(h *netlink.Handle, name string) (*netlink.Vxlan, error) {
	link, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("vxlan %q: %w", name, err)
	}
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		return nil, fmt.Errorf("interface %q %w", name, ErrNotVXLAN)
	}
	return vx, nil
}
