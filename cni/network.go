package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/plumbnet/plumb/network"
)

// EndpointID is the endpoint id of the CNI attachment (containerID,
// ifname): "cni-" and 40 hex digits of the pair's SHA-256. The same pair
// gives the same id every time, and the host veth's name derives from the
// id, so a DEL finds both with no other state. Neither part may contain a
// '/' (the CNI spec forbids it), so "containerID/ifname" is unambiguous.
func EndpointID(containerID, ifname string) string {
	h := sha256.Sum256([]byte(containerID + "/" + ifname))
	return "cni-" + hex.EncodeToString(h[:20])
}

// isAttachment reports whether an endpoint id is a CNI attachment's: the
// CLI's endpoints are never collected by a GC.
func isAttachment(id string) bool { return strings.HasPrefix(id, "cni-") }

// netSpec is a network as a CNI network config describes it: its name
// and the options of `plumb network create`, each of them optional (zero or
// nil: not given, the default or the existing network's value).
type netSpec struct {
	Name       string
	Subnet     netip.Prefix
	Gateway    netip.Addr
	IPRange    netip.Prefix
	Bridge     string
	MTU        int
	Internal   *bool
	ICC        *bool // default true, as with the CLI
	Masquerade *bool // default true, as with the CLI
	// The IPv6 side and the gateway modes ("ipv6", "ipv4": false,
	// "subnet6", "gateway6", "ipRange6", "gatewayModeIPv4/IPv6").
	IPv6, NoIPv4      bool
	Subnet6, IPRange6 netip.Prefix
	Gateway6          netip.Addr
	Mode4, Mode6      string
}

// createOptions are the options `plumb network create` would take for c.
func (c netSpec) createOptions() network.CreateOptions {
	o := network.CreateOptions{
		Name: c.Name, Subnet: c.Subnet, Gateway: c.Gateway, IPRange: c.IPRange,
		Bridge: c.Bridge, MTU: c.MTU, ICC: true, Masquerade: true,
		IPv6: c.IPv6, NoIPv4: c.NoIPv4, Subnet6: c.Subnet6, Gateway6: c.Gateway6, IPRange6: c.IPRange6,
		GatewayMode4: c.Mode4, GatewayMode6: c.Mode6,
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
func (c netSpec) conflicts(n *network.Network) error {
	bad := func(field string, want, have any) error {
		return fmt.Errorf("network %q: %w: the CNI config asks for %s %v but the network has %v (remove the field, or `plumb network rm %s` first)", n.Name, network.ErrInvalid, field, want, have, n.Name)
	}
	switch {
	case c.Subnet.IsValid() && c.Subnet != n.Subnet:
		return bad("subnet", c.Subnet, n.Subnet)
	case c.Gateway.IsValid() && c.Gateway != n.Gateway:
		return bad("gateway", c.Gateway, n.Gateway)
	case c.IPRange.IsValid() && c.IPRange != n.IPRange:
		return bad("ipRange", c.IPRange, n.IPRange)
	case c.IPv6 && !n.IPv6():
		return bad("ipv6", true, false)
	case c.NoIPv4 && n.IPv4():
		return bad("ipv4", false, true)
	case c.Subnet6.IsValid() && c.Subnet6 != n.Subnet6:
		return bad("subnet6", c.Subnet6, n.Subnet6)
	case c.Gateway6.IsValid() && c.Gateway6 != n.Gateway6:
		return bad("gateway6", c.Gateway6, n.Gateway6)
	case c.IPRange6.IsValid() && c.IPRange6 != n.IPRange6:
		return bad("ipRange6", c.IPRange6, n.IPRange6)
	case c.Mode4 != "" && c.Mode4 != n.GatewayMode4:
		return bad("gatewayModeIPv4", c.Mode4, n.GatewayMode4)
	case c.Mode6 != "" && c.Mode6 != n.GatewayMode6:
		return bad("gatewayModeIPv6", c.Mode6, n.GatewayMode6)
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
