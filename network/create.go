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

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/ipam"
)

// BridgeName is the default bridge of network name: "pb-" and 12 hex digits
// of the name's SHA-256, 15 bytes, the same for the same name every time.
func BridgeName(name string) string {
	h := sha256.Sum256([]byte(name))
	return "pb-" + hex.EncodeToString(h[:6])
}

// createOp is one network create in progress.
type createOp struct {
	m *Manager
	n *Network
}

// createSteps are the steps of a network create, each with its undo.
var createSteps = []step[*createOp]{
	{"state", (*createOp).writeState, (*createOp).removeState},
	{"guard", (*createOp).guard, (*createOp).deleteGuard},
	{"bridge", (*createOp).bridge, (*createOp).deleteBridge},
	{"firewall", (*createOp).firewall, (*createOp).deleteFirewall},
}

// Create makes a network: its state directory, the localnet guard of its
// bridge, its bridge with the gateway address, its firewall rules and
// ip_forward (createSteps); a running daemon then serves its gateway.
// Without a subnet it picks a free private /24 that overlaps no host
// address or route and no other plumb network. On any error nothing is
// left behind.
func (m *Manager) Create(o CreateOptions) (*Network, error) {
	if err := validateCreate(o); err != nil {
		return nil, err
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
	n := &Network{
		Name: o.Name, Driver: DriverBridge, Bridge: o.Bridge, Subnet: o.Subnet, Gateway: o.Gateway,
		IPRange: o.IPRange, Subnet6: o.Subnet6, Gateway6: o.Gateway6, IPRange6: o.IPRange6,
		MTU: o.MTU, Internal: o.Internal, ICC: o.ICC, Masquerade: o.Masquerade && !o.Internal,
		GatewayMode4: o.GatewayMode4, GatewayMode6: o.GatewayMode6, Created: time.Now().UTC(),
	}
	if n.Bridge == "" {
		n.Bridge = BridgeName(n.Name)
	}
	for _, e := range existing {
		if e.Bridge == n.Bridge {
			return nil, fmt.Errorf("bridge %q is already used by network %q", n.Bridge, e.Name)
		}
	}
	if m.links().Exists(n.Bridge) {
		return nil, fmt.Errorf("interface %q %w on the host: choose another --bridge", n.Bridge, ErrExists)
	}
	if n.ID, err = randomID(); err != nil {
		return nil, err
	}
	if err := m.chooseSubnets(n, o, existing); err != nil {
		return nil, err
	}
	if n.MTU == 0 {
		n.MTU = m.links().DefaultMTU()
	}
	wrote, err := m.ensureFirewallRecord()
	if err != nil {
		return nil, err
	}
	if err := runSteps(m.fault, createSteps, &createOp{m: m, n: n}); err != nil {
		if wrote && !m.dry() {
			os.Remove(m.FirewallRecordPath())
		}
		return nil, err
	}
	// The daemon runs whenever a network exists: it keeps the network true
	// (its reconciler) and serves its gateway's names. Without the name
	// service (a CNI config with DNS off) none is started.
	if m.NoDNS {
		return n, nil
	}
	if err := m.StartDaemon(); err != nil {
		return nil, err
	}
	return n, nil
}

// writeState makes the network's directory, its address store and its
// config file.
// The directory is made whole under a hidden name, then renamed into
// place: a network's directory never exists without its network.json, so
// a directory without one is damaged, not a create in progress, and a
// killed create leaves only a hidden directory that no command reads.
func (c *createOp) writeState() error {
	if c.m.dry() {
		return c.dryWriteState()
	}
	m, n := c.m, c.n
	tmp, err := os.MkdirTemp(m.networksDir(), ".create-"+n.Name+"-")
	if err != nil {
		return fmt.Errorf("creating state for %q: %w", n.Name, err)
	}
	fail := func(err error) error {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fail(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "endpoints"), 0o755); err != nil {
		return fail(fmt.Errorf("creating state for %q: %w", n.Name, err))
	}
	if _, err := ipam.NewDiskStore(tmp); err != nil {
		return fail(err)
	}
	if n.IPv6() {
		if _, err := ipam.NewDiskStore6(tmp); err != nil {
			return fail(err)
		}
	}
	if err := m.writeNetwork(filepath.Join(tmp, "network.json"), n); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, m.netDir(n.Name)); err != nil {
		return fail(fmt.Errorf("creating state for %q: %w", n.Name, err))
	}
	return nil
}

// removeState undoes writeState. A dry run's writeState made nothing, so
// its undo removes nothing: the directory may be a concurrent real
// create's (a dry run takes no lock).
func (c *createOp) removeState() error {
	if c.m.dry() {
		c.m.DryRun.Cmd("rm", "-rf", c.m.netDir(c.n.Name))
		c.m.dryRemoved(c.m.netDir(c.n.Name))
		return nil
	}
	return os.RemoveAll(c.m.netDir(c.n.Name))
}

// guard guards the bridge's name before the bridge exists: bridge.Ensure
// turns route_localnet on as it makes the bridge.
func (c *createOp) guard() error { return c.m.guard().EnsureLocalnetGuard(c.n.Bridge) }

// deleteGuard runs after deleteBridge in a rollback: the guard goes once
// the bridge, and its route_localnet with it, is gone.
func (c *createOp) deleteGuard() error { return c.m.guard().DeleteLocalnetGuard(c.n.Bridge) }

func (c *createOp) bridge() error {
	if _, err := c.m.links().EnsureBridge(c.n.bridgeConfig()); err != nil {
		c.m.links().DeleteBridge(c.n.Bridge)
		return linkError(err)
	}
	return nil
}

func (c *createOp) deleteBridge() error { return c.m.links().DeleteBridge(c.n.Bridge) }

func (c *createOp) firewall() error {
	if err := c.m.ensureFirewall(c.n); err != nil {
		return errors.Join(err, c.deleteFirewall())
	}
	return nil
}

func (c *createOp) deleteFirewall() error {
	fw, err := c.m.fw()
	if err != nil {
		return err
	}
	return fw.DeleteNetwork(c.n.Name)
}

func (n *Network) bridgeConfig() bridge.Config {
	c := bridge.Config{Name: n.Bridge, MTU: n.MTU, RouteLocalnet: !n.Internal && n.IPv4()}
	if n.Gateway.IsValid() {
		c.Gateway = netip.PrefixFrom(n.Gateway, n.Subnet.Bits())
	}
	if n.Gateway6.IsValid() {
		c.Gateway6 = netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits())
	}
	return c
}

func (n *Network) firewall() firewall.Network {
	return firewall.Network{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet, Subnet6: n.Subnet6, Internal: n.Internal, ICC: n.ICC,
		Masquerade: n.Masquerade, Mode4: n.GatewayMode4, Mode6: n.GatewayMode6}
}

func (n *Network) ipRange() (ipam.Range, error) {
	return ipam.NewRange(n.Subnet, n.IPRange, n.Gateway)
}

func (n *Network) ipRange6() (ipam.Range, error) {
	return ipam.NewRange(n.Subnet6, n.IPRange6, n.Gateway6)
}

// bridgeIndex returns the index of n's bridge. A bridge that vanished (a
// reboot, or someone ran `ip link del`) is rebuilt, its localnet guard
// first and its rules after, so that attach repairs the network instead of
// failing. It runs under the network's lock; the firewall has its own, so
// it needs no global lock.
func (m *Manager) bridgeIndex(n *Network) (int, error) {
	idx, err := m.links().BridgeIndex(n.Bridge)
	if err == nil {
		return idx, nil
	}
	if errors.Is(err, bridge.ErrNotBridge) {
		return 0, linkError(err)
	}
	if err := m.guard().EnsureLocalnetGuard(n.Bridge); err != nil {
		return 0, err
	}
	if idx, err = m.links().EnsureBridge(n.bridgeConfig()); err != nil {
		return 0, linkError(err)
	}
	if err := m.ensureFirewall(n); err != nil {
		return 0, err
	}
	return idx, nil
}

// hostState is what plumb changed on the host and must put back when its
// last network goes.
type hostState struct {
	IPForwardChanged  bool `json:"ipForwardChanged"`
	IP6ForwardChanged bool `json:"ip6ForwardChanged,omitempty"`
}

func (m *Manager) hostStatePath() string { return filepath.Join(m.StateDir, "host.json") }

// ensureFirewall installs n's rules and turns forwarding on for the
// families n routes (ip_forward; net.ipv6.conf.all.forwarding when n has
// IPv6 with a gateway), recording whether plumb was the one to turn it on.
func (m *Manager) ensureFirewall(n *Network) error {
	fw, err := m.fw()
	if err != nil {
		return err
	}
	if err := fw.EnsureNetwork(n.firewall()); err != nil {
		return err
	}
	if n.Internal {
		return nil
	}
	v4, v6 := n.IPv4() && n.Gateway.IsValid(), n.IPv6() && n.Gateway6.IsValid()
	if m.dry() {
		return m.dryIPForward(v4, v6)
	}
	hs := m.readHostState()
	if hs == nil {
		hs = &hostState{}
	}
	before := *hs
	if v4 {
		changed, err := firewall.EnableIPForward()
		if err != nil {
			return err
		}
		hs.IPForwardChanged = hs.IPForwardChanged || changed
	}
	var err6 error
	if v6 {
		changed, err := firewall.EnableIP6Forward()
		err6 = err
		hs.IP6ForwardChanged = hs.IP6ForwardChanged || changed
	}
	if err6 != nil && *hs == before {
		return err6
	}
	if *hs != before {
		b, _ := json.Marshal(hs)
		if err := os.WriteFile(m.hostStatePath(), b, 0o644); err != nil {
			return fmt.Errorf("recording host state: %w", err)
		}
	}
	return err6
}

func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating network id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
