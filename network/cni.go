package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/veth"
)

// KindCNI is the Endpoint.Kind of an attachment made through the CNI
// plugin. Such an endpoint has no hosts or resolv.conf file of plumb's (the
// runtime writes those from the result) and no 127.0.0.11 listener: the
// runtime's resolv.conf names the gateway listener.
const KindCNI = "cni"

// ErrNetNS marks a CNI_NETNS that cannot be attached: missing, not a
// network namespace, or the plugin's own.
var ErrNetNS = errors.New("unusable network namespace")

// CNIEndpointID is the endpoint id of the CNI attachment (containerID,
// ifname): "cni-" and 40 hex digits of the pair's SHA-256. The same pair
// gives the same id every time, and the host veth's name derives from the
// id, so a DEL finds both with no other state. Neither part may contain a
// '/' (the CNI spec forbids it), so "containerID/ifname" is unambiguous.
func CNIEndpointID(containerID, ifname string) string {
	h := sha256.Sum256([]byte(containerID + "/" + ifname))
	return "cni-" + hex.EncodeToString(h[:20])
}

// CNINetwork is a network as a CNI network config describes it: its name
// and the options of `plumb network create`, each of them optional (zero or
// nil: not given, the default or the existing network's value).
type CNINetwork struct {
	Name       string
	Subnet     netip.Prefix
	Gateway    netip.Addr
	IPRange    netip.Prefix
	Bridge     string
	MTU        int
	Internal   *bool
	ICC        *bool // default true, as with the CLI
	Masquerade *bool // default true, as with the CLI
}

func (c CNINetwork) createOptions() CreateOptions {
	o := CreateOptions{
		Name: c.Name, Subnet: c.Subnet, Gateway: c.Gateway, IPRange: c.IPRange,
		Bridge: c.Bridge, MTU: c.MTU, ICC: true, Masquerade: true,
	}
	if c.Internal != nil {
		o.Internal = *c.Internal
	}
	if c.ICC != nil {
		o.ICC = *c.ICC
	}
	if c.Masquerade != nil {
		o.Masquerade = *c.Masquerade
	}
	return o
}

// conflicts reports the first option c gives that n does not have, as an
// ErrInvalid naming the field, both values and how to resolve it.
func (c CNINetwork) conflicts(n *Network) error {
	bad := func(field string, want, have any) error {
		return fmt.Errorf("network %q: %w: the CNI config asks for %s %v but the network has %v (remove the field, or `plumb network rm %s` first)", n.Name, ErrInvalid, field, want, have, n.Name)
	}
	switch {
	case c.Subnet.IsValid() && c.Subnet != n.Subnet:
		return bad("subnet", c.Subnet, n.Subnet)
	case c.Gateway.IsValid() && c.Gateway != n.Gateway:
		return bad("gateway", c.Gateway, n.Gateway)
	case c.IPRange.IsValid() && c.IPRange != n.IPRange:
		return bad("ipRange", c.IPRange, n.IPRange)
	case c.Bridge != "" && c.Bridge != n.Bridge:
		return bad("bridge", c.Bridge, n.Bridge)
	case c.MTU != 0 && c.MTU != n.MTU:
		return bad("mtu", c.MTU, n.MTU)
	case c.Internal != nil && *c.Internal != n.Internal:
		return bad("internal", *c.Internal, n.Internal)
	case c.ICC != nil && *c.ICC != n.ICC:
		return bad("icc", *c.ICC, n.ICC)
	case c.Masquerade != nil && *c.Masquerade != n.Masquerade && !n.Internal:
		return bad("ipMasq", *c.Masquerade, n.Masquerade)
	}
	return nil
}

// createForCNI makes the network c describes the way `plumb network
// create` would. Two plugins racing to create one network both go on with
// the one that won.
func (m *Manager) createForCNI(c CNINetwork) error {
	if _, err := m.Create(c.createOptions()); err != nil && !errors.Is(err, ErrExists) {
		return err
	}
	return nil
}

// CNIAttachOptions are the parameters of a CNI ADD.
type CNIAttachOptions struct {
	ContainerID string // CNI_CONTAINERID
	IfName      string // CNI_IFNAME
	NetNS       string // CNI_NETNS: the namespace's path
	IP          netip.Addr
	MAC         string
	Aliases     []string
	Publish     []PortSpec // the portMappings capability: host ports, held by the daemon
}

// CNIAttachment is what an ADD made: the endpoint and its network.
type CNIAttachment struct {
	Endpoint *Endpoint
	Network  *Network
}

// AttachCNI attaches the namespace at o.NetNS to the network c describes,
// as the CNI attachment (o.ContainerID, o.IfName). The network is created
// from c the way `plumb network create` would when it does not exist yet;
// one that exists, made by the CLI or by an earlier ADD, is used as it is,
// provided c asks for nothing it contradicts (ErrInvalid otherwise). The
// attach takes the same steps as Attach (address, veth with its peer
// created inside the namespace, peer configuration, names in the daemon)
// but writes no hosts or resolv.conf file, which the runtime writes.
// Published ports (o.Publish) are plumb's, as with `attach -p`: the daemon
// holds the host ports and DNAT rules lead them to the container. Adding a
// pair that is attached already returns its endpoint and changes nothing.
// On error nothing of the attach is left behind.
func (m *Manager) AttachCNI(c CNINetwork, o CNIAttachOptions) (*CNIAttachment, error) {
	if err := ValidateName(c.Name); err != nil {
		return nil, err
	}
	if err := checkCNINetNS(o.NetNS); err != nil {
		return nil, err
	}
	ao := AttachOptions{Network: c.Name, IP: o.IP, MAC: o.MAC, IfName: o.IfName, Aliases: o.Aliases, Publish: o.Publish}
	if ao.IfName == "" {
		return nil, fmt.Errorf("interface name: %w: CNI_IFNAME is empty", ErrInvalid)
	}
	nlock, err := m.lockNetwork(c.Name)
	if errors.Is(err, ErrNotFound) {
		if err := m.createForCNI(c); err != nil {
			return nil, err
		}
		nlock, err = m.lockNetwork(c.Name)
	}
	if err != nil {
		return nil, err
	}
	defer nlock.Unlock()
	n, err := m.Get(c.Name)
	if err != nil {
		return nil, err
	}
	if err := c.conflicts(n); err != nil {
		return nil, err
	}
	if err := validateAttach(n, &ao); err != nil {
		return nil, err
	}
	id := CNIEndpointID(o.ContainerID, o.IfName)
	t := &container.Target{
		Spec: "cni:" + o.ContainerID, Kind: KindCNI, NetNSPath: o.NetNS,
		ContainerID: o.ContainerID, Key: id,
	}
	if _, err := os.Stat(m.endpointPath(n.Name, id)); errors.Is(err, os.ErrNotExist) {
		// No record, yet the veth may be there: a DEL handed it to the
		// daemon to delete and this ADD of the same pair came first, or an
		// ADD was killed. Its name is this ADD's: delete it now.
		if err := veth.Delete(hostVethName(n, id)); err != nil {
			return nil, err
		}
	}
	ep, _, err := m.attach(n, t, t.Spec, ao)
	if err != nil {
		return nil, err
	}
	return &CNIAttachment{Endpoint: ep, Network: n}, nil
}

// checkCNINetNS checks that path is a network namespace other than the
// plugin's own: attaching the host's namespace to a network would move
// the host's interfaces around. Every error wraps ErrNetNS.
func checkCNINetNS(path string) error {
	if path == "" {
		return fmt.Errorf("%w: CNI_NETNS is empty", ErrNetNS)
	}
	key, err := container.NetNSKey(path)
	var pe *os.PathError
	switch {
	case errors.Is(err, container.ErrNotNetNS):
		return fmt.Errorf("netns %q: %w: not a network namespace file", path, ErrNetNS)
	case errors.As(err, &pe):
		return fmt.Errorf("netns %q: %w: %v", path, ErrNetNS, pe.Err)
	case err != nil:
		return fmt.Errorf("netns %q: %w: %v", path, ErrNetNS, err)
	}
	if self, err := container.NetNSKey("/proc/self/ns/net"); err == nil && key == self {
		return fmt.Errorf("netns %q: %w: it is the plugin's own namespace", path, ErrNetNS)
	}
	return nil
}
