package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/ipam"
	"github.com/plumbnet/plumb/overlay"
)

// The drivers of a network: a bridge on one host (Create), or an overlay
// network spanning hosts (Materialize), a bridge plus a VXLAN device.
const (
	DriverBridge  = "bridge"
	DriverOverlay = "overlay"
)

// maxVNI is the largest 24-bit VXLAN network identifier.
const maxVNI = 1<<24 - 1

// Overlay reports whether n is an overlay network.
func (n *Network) Overlay() bool { return n.Driver == DriverOverlay }

// Materialize makes this host's part of the overlay network n, as the
// cluster agent (plumb-cluster) reads it from the store: its state
// directory (network.json written atomically, Blocks and VNI updated when
// they changed), the localnet guard, the bridge with the gateway address
// (the same address, and the same MAC, bridge.MAC of the bridge name
// derived from the network name, on every host: a distributed gateway),
// the firewall rules of the subnet (egress masqueraded here), and the
// VXLAN device of n.VNI with source address local, enslaved to the bridge.
// The bridge, the VXLAN device and every veth of the network use the
// underlay's MTU less the encapsulation (overlay.MTU) unless n.MTU is set.
// It is idempotent; a network made anew is rolled back whole on error. It
// fills in n's defaults (Bridge, MTU, Driver). Remote endpoints are not
// its business: the caller adds them (overlay.AddRemote) after it, as
// overlay.Ensure asks.
//
// Equivalent to: `plumb network create` with the overlay's settings, then
//
//	ip link add vx-XXXX mtu MTU type vxlan id VNI local LOCAL dstport 4789 nolearning proxy
//	ip link set vx-XXXX master pb-XXXX up
func (m *Manager) Materialize(n *Network, local netip.Addr) error {
	if m.dry() {
		return fmt.Errorf("network %q: %w: an overlay network cannot be made in a dry run", n.Name, ErrInvalid)
	}
	if err := checkOverlay(n, local); err != nil {
		return err
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("network %q: netlink: %w", n.Name, err)
	}
	defer h.Close()
	n.Driver, n.Masquerade = DriverOverlay, n.Masquerade && !n.Internal
	if n.Bridge == "" {
		n.Bridge = BridgeName(n.Name)
	}
	if n.MTU == 0 {
		if n.MTU, err = overlay.MTU(h, local); err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
	}
	glock, err := m.lockGlobal()
	if err != nil {
		return err
	}
	defer glock.Unlock()
	op := &overlayOp{createOp: createOp{m: m, n: n}, h: h, local: local}
	old, err := m.Get(n.Name)
	if errors.Is(err, ErrNotFound) {
		return op.create()
	}
	if err != nil {
		return err
	}
	return op.update(old)
}

// checkOverlay validates what Materialize is given, in one line naming the
// bad value.
func checkOverlay(n *Network, local netip.Addr) error {
	if err := ValidateName(n.Name); err != nil {
		return err
	}
	switch {
	case n.VNI == 0 || n.VNI > maxVNI:
		return fmt.Errorf("network %q: vni %d: %w: want 1-%d", n.Name, n.VNI, ErrInvalid, maxVNI)
	case !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.IPv6():
		return fmt.Errorf("network %q: subnet %v: %w: an overlay network has one IPv4 subnet", n.Name, n.Subnet, ErrInvalid)
	case !validID(n.ID):
		return fmt.Errorf("network %q: id %q: %w: want 64 hex digits", n.Name, n.ID, ErrInvalid)
	case !local.IsValid() || local.IsUnspecified():
		return fmt.Errorf("network %q: underlay address %v: %w", n.Name, local, ErrInvalid)
	}
	if !n.Gateway.IsValid() {
		n.Gateway = n.Subnet.Masked().Addr().Next()
	}
	for _, b := range n.Blocks {
		if !b.IsValid() || b.Bits() < n.Subnet.Bits() || !n.Subnet.Contains(b.Addr()) {
			return fmt.Errorf("network %q: block %v: %w: not inside subnet %s", n.Name, b, ErrInvalid, n.Subnet)
		}
	}
	_, err := ipam.NewRange(n.Subnet, netip.Prefix{}, n.Gateway)
	if err != nil {
		return fmt.Errorf("network %q: %w: %v", n.Name, ErrInvalid, err)
	}
	return nil
}

// overlayOp is one Materialize in progress.
type overlayOp struct {
	createOp
	h     *netlink.Handle
	local netip.Addr
}

// create makes the network anew: the create steps, then the VXLAN device,
// each undone on a later error.
func (o *overlayOp) create() error {
	m, n := o.m, o.n
	for _, e := range must(m.List()) {
		if e.Bridge == n.Bridge || e.Subnet.Overlaps(n.Subnet) {
			return fmt.Errorf("network %q: %w: its bridge or subnet is network %q's", n.Name, ErrExists, e.Name)
		}
	}
	wrote, err := m.ensureFirewallRecord()
	if err != nil {
		return err
	}
	steps := append(slices.Clone(createSteps), step[*createOp]{"vxlan", o.vxlan, o.deleteVXLAN})
	if err := runSteps(m.fault, steps, &o.createOp); err != nil {
		if wrote {
			os.Remove(m.FirewallRecordPath())
		}
		return err
	}
	return nil
}

// update brings an existing network's record and kernel state to n: an
// overlay network of the same id, whose record is rewritten when its
// blocks, VNI or MTU changed. Nothing is rolled back: every step is an
// idempotent ensure, run again by the next Materialize.
func (o *overlayOp) update(old *Network) error {
	m, n := o.m, o.n
	if !old.Overlay() || old.ID != n.ID {
		return fmt.Errorf("network %q %w on this host and is not the overlay network %s", n.Name, ErrExists, n.ID[:12])
	}
	n.Created = old.Created
	if old.VNI != n.VNI || old.MTU != n.MTU || !slices.Equal(old.Blocks, n.Blocks) || old.Gateway != n.Gateway {
		if err := m.writeNetwork(filepath.Join(m.netDir(n.Name), "network.json"), n); err != nil {
			return fmt.Errorf("network %q: %w", n.Name, err)
		}
	}
	if err := m.guard().EnsureLocalnetGuard(n.Bridge); err != nil {
		return err
	}
	if _, err := m.links().EnsureBridge(n.bridgeConfig()); err != nil {
		return linkError(err)
	}
	if err := m.ensureFirewall(n); err != nil {
		return err
	}
	return o.vxlan(&o.createOp)
}

// vxlan ensures the network's VXLAN device on its bridge.
func (o *overlayOp) vxlan(*createOp) error {
	_, err := overlay.Ensure(o.h, o.vxlanConfig())
	return err
}

func (o *overlayOp) deleteVXLAN(*createOp) error {
	return overlay.Delete(o.h, overlay.VXLANName(o.n.Name))
}

func (o *overlayOp) vxlanConfig() overlay.Config {
	n := o.n
	return overlay.Config{Name: overlay.VXLANName(n.Name), VNI: n.VNI, Local: o.local, MTU: n.MTU, Bridge: n.Bridge}
}

// EnsureVXLAN makes the VXLAN device of the overlay network name whole
// again as Materialize made it, with this host's underlay address local
// (overlay.Ensure: nothing is written when nothing drifted), and returns
// its index. A new index means the device was made again, and its FDB and
// neighbour entries are gone with the old one. A network whose bridge is
// missing is the daemon's to rebuild first: an error.
// Equivalent to: `ip -d link show vx-…` and, when it differs, what
// Materialize runs.
func (m *Manager) EnsureVXLAN(name string, local netip.Addr) (int, error) {
	n, err := m.Get(name)
	if err != nil {
		return 0, err
	}
	if !n.Overlay() {
		return 0, fmt.Errorf("network %q is not an overlay network: %w", name, ErrInvalid)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	o := &overlayOp{createOp: createOp{m: m, n: n}, h: h, local: local}
	return overlay.Ensure(h, o.vxlanConfig())
}

// must drops List's error: a damaged network is not one to clash with.
func must(nets []*Network, _ error) []*Network { return nets }

// allocate4 reserves id's IPv4 address on n: anywhere in its range for a
// bridge network; for an overlay network only inside the blocks this host
// owns (n.Blocks), the first with a free address, so that no two hosts
// ever hand out the same one.
func (m *Manager) allocate4(n *Network, id string, static netip.Addr) (netip.Addr, error) {
	alloc, err := m.allocator(n)
	if err != nil {
		return netip.Addr{}, err
	}
	if !n.Overlay() {
		return alloc.Allocate(id, static)
	}
	if len(n.Blocks) == 0 {
		return netip.Addr{}, fmt.Errorf("this host owns no address block of %s yet: %w (is plumb-cluster running?)", n.Subnet, ipam.ErrExhausted)
	}
	for _, b := range n.Blocks {
		if alloc.Range, err = ipam.NewRange(n.Subnet, b, n.Gateway); err != nil {
			continue
		}
		ip, err := alloc.Allocate(id, static)
		switch {
		case err == nil:
			return ip, nil
		case errors.Is(err, ipam.ErrExhausted), static.IsValid() && errors.Is(err, ipam.ErrOutOfRange):
			continue
		}
		return netip.Addr{}, err
	}
	if static.IsValid() {
		return netip.Addr{}, fmt.Errorf("%s: %w: not in this host's blocks %v", static, ipam.ErrOutOfRange, n.Blocks)
	}
	return netip.Addr{}, fmt.Errorf("this host's blocks %v are full: %w", n.Blocks, ipam.ErrExhausted)
}

// FreeInBlocks counts the addresses this host can still hand out on the
// overlay network name: the free ones of the blocks it owns (0 without
// any). The cluster agent claims the next block before it runs out, so
// that an attach never waits for the store. Equivalent to counting
// networks/NAME/ips/ against the blocks in network.json.
func (m *Manager) FreeInBlocks(name string) (int, error) {
	n, err := m.Get(name)
	if err != nil {
		return 0, err
	}
	alloc, err := m.allocator(n)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, b := range n.Blocks {
		if alloc.Range, err = ipam.NewRange(n.Subnet, b, n.Gateway); err != nil {
			continue
		}
		free, _, err := alloc.Free()
		if err != nil {
			return 0, err
		}
		total += free
	}
	return total, nil
}

// deleteVXLAN removes an overlay network's VXLAN device (network rm).
func deleteVXLAN(n *Network) error {
	if !n.Overlay() {
		return nil
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	return overlay.Delete(h, overlay.VXLANName(n.Name))
}
