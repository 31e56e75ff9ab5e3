package overlay

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/netlinkerr"
)

// Remote is an endpoint of the overlay network on another host.
type Remote struct {
	MAC  net.HardwareAddr // the endpoint's MAC
	IP   netip.Addr       // the endpoint's overlay address
	VTEP netip.Addr       // the underlay address of the host it is on
}

func (r Remote) String() string {
	return fmt.Sprintf("%s %s via %s", r.IP, r.MAC, r.VTEP)
}

func (r Remote) validate(dev string) error {
	switch {
	case len(r.MAC) != 6 || r.MAC[0]&1 != 0 || bytes.Equal(r.MAC, make(net.HardwareAddr, 6)):
		return fmt.Errorf("vxlan %q: remote mac %q is not a unicast ethernet address", dev, r.MAC)
	case !r.IP.IsValid() || r.IP.IsUnspecified() || r.IP.IsMulticast():
		return fmt.Errorf("vxlan %q: remote address %v is not a unicast address", dev, r.IP)
	case !r.VTEP.IsValid() || r.VTEP.IsUnspecified() || r.VTEP.IsMulticast():
		return fmt.Errorf("vxlan %q: remote vtep %v is not a unicast address", dev, r.VTEP)
	}
	return nil
}

// AddRemote programs the remote endpoint r on the VXLAN device dev: frames
// for r.MAC are tunnelled to r.VTEP, the bridge forwards them to dev
// without flooding, and an ARP (or neighbour solicitation) for r.IP is
// answered on this host with r.MAC. It is idempotent, and replaces the
// entries of an endpoint that moved (same MAC, other VTEP; same IP, other
// MAC).
//
// Equivalent to:
//
//	bridge fdb replace MAC dev DEV dst VTEP self permanent
//	bridge fdb replace MAC dev DEV master static      (when DEV has a master)
//	ip neigh replace IP lladdr MAC dev DEV nud permanent
func AddRemote(h *netlink.Handle, dev string, r Remote) error {
	if err := r.validate(dev); err != nil {
		return err
	}
	vx, err := device(h, dev)
	if err != nil {
		return err
	}
	for _, n := range entries(vx, r) {
		if err := h.NeighSet(n.neigh); err != nil {
			return fmt.Errorf("adding %s for remote %s on %q: %w", n.what, r, dev, err)
		}
	}
	return nil
}

// DelRemote removes what AddRemote programmed for r, but only the entries
// that are still r's: when r.MAC is now tunnelled to another VTEP (the
// endpoint moved, and its new location was added before the old one was
// deleted) nothing is removed, and a neighbour entry for r.IP that names
// another MAC is kept. It tolerates entries, or the device, already gone.
//
// Equivalent to:
//
//	ip neigh del IP dev DEV                    (if it is lladdr MAC)
//	bridge fdb del MAC dev DEV master
//	bridge fdb del MAC dev DEV dst VTEP self
func DelRemote(h *netlink.Handle, dev string, r Remote) error {
	if err := r.validate(dev); err != nil {
		return err
	}
	vx, err := device(h, dev)
	if netlinkerr.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	t, err := readTables(h, vx)
	if err != nil {
		return err
	}
	vtep, inFDB := t.dst[r.MAC.String()]
	if inFDB && vtep != r.VTEP {
		return nil // moved: its entries now belong to its new location
	}
	all := entries(vx, r)
	var del []entry
	if mac, ok := t.neigh[r.IP]; ok && bytes.Equal(mac, r.MAC) {
		del = append(del, all[len(all)-1])
	}
	if vx.MasterIndex != 0 && t.master[r.MAC.String()] {
		del = append(del, all[1])
	}
	if inFDB {
		del = append(del, all[0])
	}
	for _, n := range del {
		if err := h.NeighDel(n.neigh); err != nil && !netlinkerr.IsNotFound(err) {
			return fmt.Errorf("removing %s of remote %s on %q: %w", n.what, r, dev, err)
		}
	}
	return nil
}

// entry is one kernel entry of a remote, with words for errors.
type entry struct {
	what  string
	neigh *netlink.Neigh
}

// entries are the kernel entries of r on vx, in the order they are added:
// the VXLAN FDB entry, the bridge FDB entry (when vx has a master), the
// neighbour entry last, so that an ARP answer never names a MAC the kernel
// cannot yet deliver to.
func entries(vx *netlink.Vxlan, r Remote) []entry {
	idx := vx.Attrs().Index
	out := []entry{{"vxlan fdb entry", &netlink.Neigh{
		LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
		State: netlink.NUD_PERMANENT, HardwareAddr: r.MAC, IP: r.VTEP.Unmap().AsSlice(),
	}}}
	if vx.MasterIndex != 0 {
		// NUD_NOARP is `static`: NUD_PERMANENT would make the MAC one
		// of the bridge's own (`local`) and deliver its frames to the host.
		out = append(out, entry{"bridge fdb entry", &netlink.Neigh{
			LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER,
			State: netlink.NUD_NOARP, HardwareAddr: r.MAC,
		}})
	}
	return append(out, entry{"neighbour entry", &netlink.Neigh{
		LinkIndex: idx, Family: family(r.IP), State: netlink.NUD_PERMANENT,
		IP: r.IP.Unmap().AsSlice(), HardwareAddr: r.MAC,
	}})
}

func family(a netip.Addr) int {
	if a.Unmap().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}
