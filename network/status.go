package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/veth"
)

// Status reports whether an attach to network name could succeed now, and
// changes nothing: the state directory must be writable; a network that
// does not exist yet must have its bridge name (bridgeName; empty for the
// default) free; one that exists must have its bridge, a free address, a
// free bridge port and its firewall rules. It fails with ErrCannotAdd, or
// with ErrLimitedConnectivity when what is missing also cuts off the
// endpoints already there (the bridge, the rules; the next attach would
// rebuild the bridge, but until then they are cut off). check, when set,
// runs on an existing network's config first.
func (m *Manager) Status(name, bridgeName string, check func(*Network) error) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := writableDir(m.StateDir); err != nil {
		return fmt.Errorf("%w: state directory %s: %v", ErrCannotAdd, m.StateDir, err)
	}
	n, err := m.Get(name)
	if errors.Is(err, ErrNotFound) {
		if bridgeName == "" {
			bridgeName = BridgeName(name)
		}
		if m.links().Exists(bridgeName) {
			return fmt.Errorf("%w: network %q does not exist yet and its bridge name %q is taken by another interface", ErrCannotAdd, name, bridgeName)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	}
	if check != nil {
		if err := check(n); err != nil {
			return err
		}
	}
	if _, err := m.links().BridgeIndex(n.Bridge); errors.Is(err, bridge.ErrNotBridge) {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	} else if err != nil {
		return fmt.Errorf("%w: bridge %q of network %q is missing (the next attach rebuilds it)", ErrLimitedConnectivity, n.Bridge, n.Name)
	}
	fams, err := m.families(n)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	}
	used := 0
	for _, f := range fams {
		free, u, err := f.alloc.Free()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCannotAdd, err)
		}
		if free == 0 {
			return fmt.Errorf("%w: network %q has no free address left in %s", ErrCannotAdd, n.Name, f.alloc.Range.Subnet)
		}
		used = max(used, u)
	}
	if used >= veth.MaxBridgePorts {
		return fmt.Errorf("%w: bridge %q of network %q is full (%d ports)", ErrCannotAdd, n.Bridge, n.Name, veth.MaxBridgePorts)
	}
	fw, err := m.fw()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCannotAdd, err)
	}
	if err := fw.CheckNetwork(n.firewall()); err != nil {
		return fmt.Errorf("%w: %v", ErrLimitedConnectivity, err)
	}
	return nil
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
