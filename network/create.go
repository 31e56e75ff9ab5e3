package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/ipam"
	"github.com/plumbnet/plumb/veth"
)

// BridgeName is the default bridge of network name: "pb-" and 12 hex digits
// of the name's SHA-256, 15 bytes, the same for the same name every time.
func BridgeName(name string) string {
	h := sha256.Sum256([]byte(name))
	return "pb-" + hex.EncodeToString(h[:6])
}

// Create makes a network: its state directory, its bridge with the gateway
// address, its firewall rules and ip_forward. Without a subnet it picks a
// free private /24 that overlaps no host address or route and no other plumb
// network. On any error nothing is left behind.
func (m *Manager) Create(o CreateOptions) (_ *Network, err error) {
	if err := ValidateName(o.Name); err != nil {
		return nil, err
	}
	if o.Bridge != "" && !veth.ValidName(o.Bridge) {
		return nil, fmt.Errorf("bridge name %q: %w: an interface name is 1-15 characters without '/', ':' or spaces", o.Bridge, ErrInvalid)
	}
	if o.MTU != 0 && (o.MTU < 68 || o.MTU > 65535) {
		return nil, fmt.Errorf("mtu %d: %w: must be between 68 and 65535", o.MTU, ErrInvalid)
	}
	if o.Subnet.IsValid() && !o.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("subnet %s: %w: only IPv4 is supported", o.Subnet, ErrInvalid)
	}
	if o.Subnet.IsValid() && o.Subnet != o.Subnet.Masked() {
		return nil, fmt.Errorf("subnet %s: %w: host bits set (did you mean %s?)", o.Subnet, ErrInvalid, o.Subnet.Masked())
	}

	glock, err := m.lockGlobal()
	if err != nil {
		return nil, err
	}
	defer glock.Unlock()

	if _, err := os.Stat(m.netDir(o.Name)); err == nil {
		return nil, fmt.Errorf("network %q %w", o.Name, ErrExists)
	}
	existing, _ := m.List()

	// n is a local, not the named result: the undo closures below must
	// still see it after a failing return has set the result to nil.
	n := &Network{
		Name: o.Name, Driver: "bridge", Bridge: o.Bridge, Subnet: o.Subnet, Gateway: o.Gateway,
		IPRange: o.IPRange, MTU: o.MTU, Internal: o.Internal, ICC: o.ICC,
		Masquerade: o.Masquerade && !o.Internal, Created: time.Now().UTC(),
	}
	if n.Bridge == "" {
		n.Bridge = BridgeName(n.Name)
	}
	for _, e := range existing {
		if e.Bridge == n.Bridge {
			return nil, fmt.Errorf("bridge %q is already used by network %q", n.Bridge, e.Name)
		}
	}
	if _, err := netlink.LinkByName(n.Bridge); err == nil {
		return nil, fmt.Errorf("interface %q %w on the host: choose another --bridge", n.Bridge, ErrExists)
	}
	if err := m.chooseSubnet(n, existing); err != nil {
		return nil, err
	}
	if n.MTU == 0 {
		n.MTU = defaultRouteMTU()
	}
	if n.ID, err = randomID(); err != nil {
		return nil, err
	}

	var u undo
	defer func() {
		if err != nil {
			if uerr := u.run(); uerr != nil {
				err = fmt.Errorf("%w (rollback: %v)", err, uerr)
			}
		}
	}()

	if err := os.MkdirAll(m.endpointsDir(n.Name), 0o755); err != nil {
		return nil, fmt.Errorf("creating state for %q: %w", n.Name, err)
	}
	u.push(func() error { return os.RemoveAll(m.netDir(n.Name)) })
	if _, err := ipam.NewDiskStore(m.netDir(n.Name)); err != nil {
		return nil, err
	}
	if err := m.saveNetwork(n); err != nil {
		return nil, err
	}

	if err := m.fault("bridge"); err != nil {
		return nil, err
	}
	u.push(func() error { return bridge.Delete(n.Bridge) })
	if _, err := bridge.Ensure(n.bridgeConfig()); err != nil {
		return nil, err
	}

	if err := m.fault("firewall"); err != nil {
		return nil, err
	}
	if err := m.ensureFirewall(n, &u); err != nil {
		return nil, err
	}
	// A running daemon opens the gateway listener now; none is started.
	if err := m.daemonSync(); err != nil {
		return nil, err
	}
	return n, nil
}

// chooseSubnet validates or picks n's subnet, gateway and ip range.
func (m *Manager) chooseSubnet(n *Network, existing []*Network) error {
	var plumbUsed []netip.Prefix
	for _, e := range existing {
		if n.Subnet.IsValid() && n.Subnet.Overlaps(e.Subnet) {
			return fmt.Errorf("subnet %s %w network %q (%s)", n.Subnet, ErrOverlap, e.Name, e.Subnet)
		}
		plumbUsed = append(plumbUsed, e.Subnet)
	}
	host, err := hostPrefixes()
	if err != nil {
		return err
	}
	if n.Subnet.IsValid() {
		for _, h := range host {
			if n.Subnet.Overlaps(h) {
				return fmt.Errorf("subnet %s %w the host route %s", n.Subnet, ErrOverlap, h)
			}
		}
	} else {
		if n.Subnet, err = pickSubnet(append(plumbUsed, host...)); err != nil {
			return err
		}
	}
	if !n.Gateway.IsValid() {
		n.Gateway = n.Subnet.Addr().Next()
	}
	if !n.Subnet.Contains(n.Gateway) || n.Gateway == n.Subnet.Addr() || n.Gateway == ipam.Broadcast(n.Subnet) {
		return fmt.Errorf("gateway %s: %w: not a host address of subnet %s", n.Gateway, ErrInvalid, n.Subnet)
	}
	if _, err := ipam.NewRange(n.Subnet, n.IPRange, n.Gateway); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func (n *Network) bridgeConfig() bridge.Config {
	return bridge.Config{Name: n.Bridge, Gateway: netip.PrefixFrom(n.Gateway, n.Subnet.Bits()), MTU: n.MTU, RouteLocalnet: !n.Internal}
}

func (n *Network) firewall() firewall.Network {
	return firewall.Network{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet, Internal: n.Internal, ICC: n.ICC, Masquerade: n.Masquerade}
}

func (n *Network) ipRange() (ipam.Range, error) {
	return ipam.NewRange(n.Subnet, n.IPRange, n.Gateway)
}

// hostState is what plumb changed on the host and must put back when its
// last network goes.
type hostState struct {
	IPForwardChanged bool `json:"ipForwardChanged"`
}

func (m *Manager) hostStatePath() string { return filepath.Join(m.StateDir, "host.json") }

// ensureFirewall installs n's rules and turns ip_forward on, recording
// whether plumb was the one to turn it on. Called with the global lock held.
func (m *Manager) ensureFirewall(n *Network, u *undo) error {
	fw, err := newFirewall()
	if err != nil {
		return err
	}
	u.push(func() error { return fw.DeleteNetwork(n.Name) })
	if err := fw.EnsureNetwork(n.firewall()); err != nil {
		return err
	}
	if n.Internal {
		return nil
	}
	changed, err := firewall.EnableIPForward()
	if err != nil {
		return err
	}
	if changed {
		b, _ := json.Marshal(hostState{IPForwardChanged: true})
		if err := os.WriteFile(m.hostStatePath(), b, 0o644); err != nil {
			return fmt.Errorf("recording host state: %w", err)
		}
	}
	return nil
}

// restoreHost puts back what plumb changed on the host once no network is
// left. Called with the global lock held.
func (m *Manager) restoreHost() error {
	names, err := m.networkNames()
	if err != nil || len(names) > 0 {
		return err
	}
	b, err := os.ReadFile(m.hostStatePath())
	if err != nil {
		return nil
	}
	var hs hostState
	if json.Unmarshal(b, &hs) == nil && hs.IPForwardChanged && !dockerRunning() {
		if err := firewall.DisableIPForward(); err != nil {
			return err
		}
	}
	if err := os.Remove(m.hostStatePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// FirewallLock orders plumb's firewall changes across processes and state
// directories: the firewall is one per host, whatever the state dir.
var FirewallLock = "/run/plumb/firewall.lock"

func newFirewall() (firewall.Firewall, error) {
	if err := os.MkdirAll(filepath.Dir(FirewallLock), 0o755); err != nil {
		return nil, fmt.Errorf("firewall lock: %w", err)
	}
	fw, err := iptables.New(FirewallLock)
	if err != nil {
		return nil, err // not a nil *iptables.Firewall in a non-nil interface
	}
	return fw, nil
}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating network id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
