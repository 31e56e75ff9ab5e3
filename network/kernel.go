package network

import (
	"net/netip"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/veth"
)

// Links is what network needs of the kernel's links, one method per `ip`
// command it stands for. kernelLinks (packages bridge and veth) is the
// real one; unit tests use a fake.
type Links interface {
	// EnsureBridge is bridge.Ensure: `ip link add NAME type bridge`, its
	// address, MTU and sysctls, up; it returns the bridge's index.
	EnsureBridge(c bridge.Config) (int, error)
	// BridgeIndex is the index of bridge name; bridge.ErrNotBridge when it
	// is another kind of link.
	BridgeIndex(name string) (int, error)
	// DeleteBridge is `ip link del NAME type bridge`; gone is success.
	DeleteBridge(name string) error
	// Exists reports whether a link of that name exists on the host.
	Exists(name string) bool
	// HostPrefixes are the host's routes and address subnets of both
	// families, for choosing a subnet that overlaps none:
	// `ip route; ip addr` (bridge.HostPrefixes, bridge.HostPrefixes6).
	HostPrefixes() ([]netip.Prefix, error)
	// DefaultMTU is the MTU of the default route's interface, else 1500.
	DefaultMTU() int

	// OpenNS opens the network namespace at path for the peer side.
	OpenNS(path string) (Namespace, error)
	// AddVeth is `ip link add HOST type veth peer name PEER netns NS`,
	// host end on the bridge and up; on error nothing is left.
	AddVeth(p veth.Pair, ns Namespace) error
	// DeleteVeth is `ip link del HOST`; gone is success.
	DeleteVeth(host string) error
	// RetireVeth takes the pair down and renames both ends (veth.Retire);
	// ns is nil when the peer's namespace is not at hand.
	RetireVeth(host string, ns Namespace, peer string) (*veth.Retired, error)
	// DeleteRetired deletes a retired pair if it is still that link.
	DeleteRetired(r veth.Retired) error
	// IsolatePort is `ip link set HOST type bridge_slave isolated on`.
	IsolatePort(host string) error
	// SetHairpin is `ip link set HOST type bridge_slave hairpin on`.
	SetHairpin(host string) error

	// CheckBridge reports the first thing wrong with bridge c (bridge.Check).
	CheckBridge(c bridge.Config) error
	// CheckVeth reports the first thing wrong with host veth name: missing,
	// not on bridge br, down (veth.CheckHost).
	CheckVeth(name, br string) error
	// BridgePorts lists the names of the links on bridge br:
	// `ip -o link show master BR`.
	BridgePorts(br string) ([]string, error)

	// HostLinks lists the host's links by name, one dump (veth.HostLinks).
	HostLinks() (map[string]veth.HostEnd, error)
	// NewSurvey opens what reads other namespaces from the host's
	// (veth.Survey), for one goroutine.
	NewSurvey() (Survey, error)
}

// Survey reads other namespaces from the host's (veth.Survey).
type Survey interface {
	// NSID is the id the host knows the namespace at path by, -1 for none.
	NSID(path string) (int, error)
	// PeerAddrs lists the addresses of link index in the namespace of nsid.
	PeerAddrs(nsid, index int) ([]netip.Prefix, error)
	// HasRoute reports whether the namespace at path has route r.
	HasRoute(path string, r veth.Route) (bool, error)
	Close()
}

// Namespace is an open network namespace on the peer side.
type Namespace interface {
	// Inode is the inode of its nsfs file, which the kernel reuses.
	Inode() uint64
	// Cookie identifies it for good (SO_NETNS_COOKIE).
	Cookie() (uint64, error)
	// Inspect lists its interface names and whether it has a default route.
	Inspect() (veth.Inside, error)
	// Configure sets up the peer: address, up, routes, lo up.
	Configure(p veth.Peer) error
	// CheckPeer reports the first thing the peer lacks (veth.CheckPeer).
	CheckPeer(want veth.PeerCheck) error
	// HasRoute reports whether the main table has route r.
	HasRoute(r veth.Route) (bool, error)
	Close() error
}

// kernelLinks is Links on the real kernel.
type kernelLinks struct{}

func (kernelLinks) EnsureBridge(c bridge.Config) (int, error) { return bridge.Ensure(c) }
func (kernelLinks) BridgeIndex(name string) (int, error)      { return bridge.Index(name) }
func (kernelLinks) DeleteBridge(name string) error            { return bridge.Delete(name) }
func (kernelLinks) Exists(name string) bool                   { return veth.Exists(name) }
func (kernelLinks) HostPrefixes() ([]netip.Prefix, error) {
	v4, err := bridge.HostPrefixes()
	if err != nil {
		return nil, err
	}
	v6, err := bridge.HostPrefixes6()
	return append(v4, v6...), err
}
func (kernelLinks) DefaultMTU() int                             { return bridge.DefaultMTU() }
func (kernelLinks) DeleteVeth(host string) error                { return veth.Delete(host) }
func (kernelLinks) IsolatePort(host string) error               { return bridge.IsolatePort(host) }
func (kernelLinks) SetHairpin(host string) error                { return bridge.SetHairpin(host) }
func (kernelLinks) DeleteRetired(r veth.Retired) error          { return veth.DeleteRetired(&r) }
func (kernelLinks) CheckBridge(c bridge.Config) error           { return bridge.Check(c) }
func (kernelLinks) BridgePorts(br string) ([]string, error)     { return bridge.Ports(br) }
func (kernelLinks) HostLinks() (map[string]veth.HostEnd, error) { return veth.HostLinks() }
func (kernelLinks) NewSurvey() (Survey, error) {
	s, err := veth.NewSurvey()
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (kernelLinks) CheckVeth(name, br string) error {
	idx, err := bridge.Index(br)
	if err != nil {
		return err
	}
	return veth.CheckHost(name, idx)
}

func (kernelLinks) OpenNS(path string) (Namespace, error) {
	ns, err := veth.OpenNS(path)
	if err != nil {
		return nil, err
	}
	ino, err := ns.Inode()
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &kernelNS{NS: ns, ino: ino}, nil
}

func (kernelLinks) AddVeth(p veth.Pair, ns Namespace) error {
	p.NetNS = ns.(*kernelNS).Handle()
	return veth.Create(p)
}

func (kernelLinks) RetireVeth(host string, ns Namespace, peer string) (*veth.Retired, error) {
	var vns *veth.NS
	if kns, ok := ns.(*kernelNS); ok && kns != nil {
		vns = kns.NS
	}
	return veth.Retire(host, vns, peer)
}

// kernelNS is an open namespace and the inode that identifies it.
type kernelNS struct {
	*veth.NS
	ino uint64
}

func (n *kernelNS) Inode() uint64 { return n.ino }

func (n *kernelNS) CheckPeer(want veth.PeerCheck) error { return veth.CheckPeer(n.NS, want) }
