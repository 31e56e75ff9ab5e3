package overlay

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/netlinkerr"
)

// tables are the static entries of one VXLAN device, as the kernel has them.
type tables struct {
	dst    map[string]netip.Addr           // VXLAN FDB: MAC -> VTEP
	master map[string]bool                 // bridge FDB: static MAC -> the device's port
	neigh  map[netip.Addr]net.HardwareAddr // neighbours: IP -> MAC, permanent only
}

// readTables dumps the FDB (the device's own and its bridge's) and the
// neighbour tables, keeping the static entries of vx.
func readTables(h *netlink.Handle, vx *netlink.Vxlan) (tables, error) {
	t := tables{dst: map[string]netip.Addr{}, master: map[string]bool{}, neigh: map[netip.Addr]net.HardwareAddr{}}
	idx := vx.Attrs().Index
	fdb, err := netlinkerr.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(idx, unix.AF_BRIDGE) })
	if err != nil {
		return t, fmt.Errorf("listing fdb of vxlan %q: %w", vx.Name, err)
	}
	for _, n := range fdb {
		mac := n.HardwareAddr.String()
		switch {
		case n.Flags&netlink.NTF_SELF != 0 && len(n.IP) > 0:
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.IsUnspecified() {
				t.dst[mac] = ip.Unmap()
			}
		case n.MasterIndex != 0 && n.State&netlink.NUD_NOARP != 0 && n.State&netlink.NUD_PERMANENT == 0:
			// The bridge's entries carry NDA_MASTER, not NTF_MASTER.
			t.master[mac] = true
		}
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		ns, err := netlinkerr.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(idx, fam) })
		if err != nil {
			return t, fmt.Errorf("listing neighbours of vxlan %q: %w", vx.Name, err)
		}
		for _, n := range ns {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && n.State&netlink.NUD_PERMANENT != 0 && len(n.HardwareAddr) == 6 {
				t.neigh[ip.Unmap()] = n.HardwareAddr
			}
		}
	}
	return t, nil
}

// Remotes lists the remote endpoints programmed on the VXLAN device dev,
// for doctor: one Remote per permanent neighbour entry, and one per VXLAN
// FDB entry that no neighbour entry names. A remote missing some of its
// entries is listed with the missing part zero: IP invalid without a
// neighbour entry; VTEP invalid without a VXLAN FDB entry, or without the
// bridge's entry when dev has a master; so comparing the list with the
// wanted remotes shows what AddRemote must repair. Sorted by IP, then MAC.
//
// Equivalent to:
//
//	bridge fdb show dev DEV
//	ip neigh show dev DEV nud permanent
func Remotes(h *netlink.Handle, dev string) ([]Remote, error) {
	vx, err := device(h, dev)
	if err != nil {
		return nil, err
	}
	t, err := readTables(h, vx)
	if err != nil {
		return nil, err
	}
	vtep := func(mac string) netip.Addr {
		if vx.MasterIndex != 0 && !t.master[mac] {
			return netip.Addr{}
		}
		return t.dst[mac]
	}
	var out []Remote
	named := map[string]bool{}
	for ip, mac := range t.neigh {
		named[mac.String()] = true
		out = append(out, Remote{MAC: mac, IP: ip, VTEP: vtep(mac.String())})
	}
	for mac := range t.dst {
		if !named[mac] {
			hw, _ := net.ParseMAC(mac)
			out = append(out, Remote{MAC: hw, VTEP: vtep(mac)})
		}
	}
	slices.SortFunc(out, func(a, b Remote) int {
		if c := a.IP.Compare(b.IP); c != 0 {
			return c
		}
		return strings.Compare(a.MAC.String(), b.MAC.String())
	})
	return out, nil
}
