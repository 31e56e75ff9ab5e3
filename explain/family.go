package explain

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/network"
)

// fam is one address family of a network, as a packet of that family
// meets it: the subnet, the gateway and the gateway mode ("" is nat).
type fam struct {
	v6      bool
	subnet  netip.Prefix
	gateway netip.Addr
	mode    string
}

// famOf is the family of n that a packet to or from an IPv6 address (v6)
// or an IPv4 one meets.
func famOf(n *network.Network, v6 bool) fam {
	if v6 {
		return fam{v6: true, subnet: n.Subnet6, gateway: n.Gateway6, mode: n.GatewayMode6}
	}
	return fam{subnet: n.Subnet, gateway: n.Gateway, mode: n.GatewayMode4}
}

// name is "IPv4" or "IPv6".
func (f fam) name() string {
	if f.v6 {
		return "IPv6"
	}
	return "IPv4"
}

// modeName is the gateway mode as Docker names it.
func (f fam) modeName() string {
	if f.mode == "" {
		return firewall.ModeNAT
	}
	return f.mode
}

// isolated: the family's gateway mode is isolated (no gateway: nothing of
// the family in or out of the bridge).
func (f fam) isolated() bool { return f.mode == firewall.ModeIsolated }

// gatewayOf is n's gateway of a's family.
func gatewayOf(n *network.Network, a netip.Addr) netip.Addr { return famOf(n, a.Is6()).gateway }

// ipt is the iptables command of the packet's family: ip6tables for IPv6.
func (x *run) ipt() string {
	if x.v6() {
		return "ip6tables"
	}
	return "iptables"
}

// facts is the reading of iptables (ip6tables for an IPv6 packet): nil
// when it could not be read, with the error.
func (x *run) facts() (*iptables.HostFacts, error) {
	if x.w.rules == nil {
		return nil, x.w.rulesErr
	}
	if x.v6() {
		if x.w.rules.Facts6 == nil {
			return nil, x.w.rules.Err6
		}
		return x.w.rules.Facts6, nil
	}
	return x.w.rules.Facts, nil
}

// foreignText is a rule not plumb's as the command of its family.
func (x *run) foreignText(fr iptables.ForeignRule) string {
	s := fr.String()
	if x.v6() {
		s = "ip6tables" + strings.TrimPrefix(s, "iptables")
	}
	return s
}

// pubAt is the endpoint of network n that has address a and a port
// published at container port port/proto of a (what the routed gateway
// mode lets in directly), or nil.
func (x *run) pubAt(n *network.Network, a netip.Addr, port uint16) *network.Endpoint {
	for _, e := range x.w.eps {
		if e.Network != n.Name || !e.Alive() || port == 0 {
			continue
		}
		for _, p := range e.FirewallPorts() {
			if p.ContainerIP == a && p.ContainerPort == port && p.Proto == x.proto {
				return e
			}
		}
	}
	return nil
}

// inboundWhy says what gateway mode f of network n lets in from outside.
func inboundWhy(n *network.Network, f fam) string {
	switch f.mode {
	case firewall.ModeRouted:
		return fmt.Sprintf("network %s's %s gateway mode is routed: from outside only published ports (at the container's own address and port) and ICMP come in", n.Name, f.name())
	case firewall.ModeNATUnprotected:
		return fmt.Sprintf("network %s's %s gateway mode is nat-unprotected: anything routed to a container comes in", n.Name, f.name())
	}
	return fmt.Sprintf("network %s's %s gateway mode is nat: from outside only published ports come in (DNAT on the host's addresses)", n.Name, f.name())
}
