package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/ipam"
)

// The two ways a CNI STATUS can fail, as the spec's error codes 50 and 51.
var (
	// ErrCannotAdd: no ADD to this network can succeed now.
	ErrCannotAdd = errors.New("cannot take new attachments")
	// ErrLimitedConnectivity: and the attachments there already may be
	// cut off too.
	ErrLimitedConnectivity = errors.New("attachments may have limited connectivity")
)

// maxBridgePorts is how many ports a Linux bridge holds (BR_MAX_PORTS-1).
const maxBridgePorts = 1023

// StatusCNI reports whether an ADD to the network c describes could
// succeed now, and changes nothing: the state directory must be writable;
// a network that does not exist yet must have its bridge name free; one
// that exists must agree with c (ErrInvalid), have its bridge, a free
// address and a free bridge port, and its firewall rules. It fails with
// ErrCannotAdd, or with ErrLimitedConnectivity when what is missing also
// cuts off the attachments already there (the bridge, the rules; the next
// ADD would rebuild the bridge, but until then they are cut off).
func (m *Manager) StatusCNI(c CNINetwork) error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if err := writableDir(m.StateDir); err != nil {
		return fmt.Errorf("%w: state directory %s: %v", ErrCannotAdd, m.StateDir, err)
	}
	n, err := m.Get(c.Name)
	if errors.Is(err, ErrNotFound) {
		name := c.Bridge
		if name == "" {
			name = BridgeName(c.Name)
		}
		if _, err := netlink.LinkByName(name); err == nil {
			return fmt.Errorf("%w: network %q does not exist yet and its bridge name %q is taken by another interface", ErrCannotAdd, c.Name, name)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	}
	if err := c.conflicts(n); err != nil {
		return err
	}
	if _, err := bridge.Index(n.Bridge); errors.Is(err, bridge.ErrNotBridge) {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	} else if err != nil {
		return fmt.Errorf("%w: bridge %q of network %q is missing (the next ADD rebuilds it)", ErrLimitedConnectivity, n.Bridge, n.Name)
	}
	free, used, err := m.freeAddresses(n)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	}
	if free == 0 {
		return fmt.Errorf("%w: network %q has no free address left in %s", ErrCannotAdd, n.Name, n.Subnet)
	}
	if used >= maxBridgePorts {
		return fmt.Errorf("%w: bridge %q of network %q is full (%d ports)", ErrCannotAdd, n.Bridge, n.Name, maxBridgePorts)
	}
	fw, err := newFirewall()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	}
	if err := fw.CheckNetwork(n.firewall()); err != nil {
		return fmt.Errorf("%w: %v", ErrLimitedConnectivity, err)
	}
	return nil
}

// freeAddresses counts the addresses of n's range that are free, and those
// reserved. Equivalent to: `ls networks/NET/ips | wc -l`.
func (m *Manager) freeAddresses(n *Network) (free, used int, err error) {
	r, err := n.ipRange()
	if err != nil {
		return 0, 0, err
	}
	store, err := ipam.NewDiskStore(m.netDir(n.Name))
	if err != nil {
		return 0, 0, err
	}
	ips, err := store.Reserved()
	if err != nil {
		return 0, 0, err
	}
	free = r.Size()
	if r.Gateway.IsValid() && r.First.Compare(r.Gateway) <= 0 && r.Gateway.Compare(r.Last) <= 0 {
		free-- // the gateway is inside the range but never handed out
	}
	for _, ip := range ips {
		if r.Contains(ip) {
			free--
		}
	}
	return max(free, 0), len(ips), nil
}

// writableDir checks that dir (or, when missing, its nearest existing
// parent) is a directory this process may write. Equivalent to: `test -w DIR`.
func writableDir(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", d)
			}
			return unix.Access(d, unix.W_OK)
		}
		if !errors.Is(err, os.ErrNotExist) || d == filepath.Dir(d) {
			return err
		}
	}
}
