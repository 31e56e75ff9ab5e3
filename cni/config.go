package cni

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/plumbnet/plumb/network"
)

// NetConf is plumb's network config. Beside the standard keys it takes the
// options of `plumb network create`, each optional:
//
//	{
//	  "cniVersion": "1.0.0", "name": "sinatra-net", "type": "plumb",
//	  "subnet": "172.30.0.0/24", "gateway": "172.30.0.1", "ipRange": "172.30.0.128/25",
//	  "ipv6": true, "subnet6": "fd00:1::/64", "gateway6": "fd00:1::1", "ipRange6": "fd00:1::/80",
//	  "ipv4": true, "gatewayModeIPv4": "nat", "gatewayModeIPv6": "routed",
//	  "bridge": "br-sinatra", "mtu": 1500,
//	  "internal": false, "icc": true, "ipMasq": true,
//	  "dns": true,
//	  "stateDir": "/var/lib/plumb", "firewall": "auto",
//	  "capabilities": {"portMappings": true, "ips": true, "mac": true, "aliases": true}
//	}
//
// "dns" is true (the default: plumb's daemon serves the network's names on
// its gateway address, and the result names it), false (no name service),
// or the standard CNI dns dictionary, whose entries are added to the
// result after the gateway. "stateDir" defaults to $PLUMB_STATE_DIR, else
// /var/lib/plumb. "firewall" (nftables, iptables or auto) defaults to
// $PLUMB_FIREWALL, else auto; it picks the backend of a host without
// networks, and one with networks keeps the backend recorded in the state
// directory.
type NetConf struct {
	CNIVersion       string               `json:"cniVersion"`
	Name             string               `json:"name"`
	Type             string               `json:"type"`
	Capabilities     map[string]bool      `json:"capabilities,omitempty"`
	IPAM             map[string]any       `json:"ipam,omitempty"`
	RawPrevResult    map[string]any       `json:"prevResult,omitempty"`
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments,omitempty"`
	RuntimeConfig    RuntimeConfig        `json:"runtimeConfig"`
	Subnet           string               `json:"subnet,omitempty"`
	Gateway          string               `json:"gateway,omitempty"`
	IPRange          string               `json:"ipRange,omitempty"`
	IPv4             *bool                `json:"ipv4,omitempty"`
	IPv6             bool                 `json:"ipv6,omitempty"`
	Subnet6          string               `json:"subnet6,omitempty"`
	Gateway6         string               `json:"gateway6,omitempty"`
	IPRange6         string               `json:"ipRange6,omitempty"`
	GatewayModeIPv4  string               `json:"gatewayModeIPv4,omitempty"`
	GatewayModeIPv6  string               `json:"gatewayModeIPv6,omitempty"`
	Bridge           string               `json:"bridge,omitempty"`
	MTU              int                  `json:"mtu,omitempty"`
	Internal         *bool                `json:"internal,omitempty"`
	ICC              *bool                `json:"icc,omitempty"`
	IPMasq           *bool                `json:"ipMasq,omitempty"`
	DNS              DNSConf              `json:"dns"`
	StateDir         string               `json:"stateDir,omitempty"`
	Firewall         string               `json:"firewall,omitempty"`
}

// firewall is the config's firewall backend choice: "firewall", else
// $PLUMB_FIREWALL; "" (auto) when neither is a valid choice, so that DEL
// goes ahead (validate refuses it for the other verbs).
func (c *NetConf) firewall() string {
	s := c.Firewall
	if s == "" {
		s = os.Getenv("PLUMB_FIREWALL")
	}
	if network.CheckFirewallChoice(s) != nil {
		return ""
	}
	return s
}

// RuntimeConfig holds the capability arguments the runtime passes for the
// capabilities plumb declares.
type RuntimeConfig struct {
	PortMappings []PortMapping       `json:"portMappings,omitempty"`
	IPs          []string            `json:"ips,omitempty"`
	MAC          string              `json:"mac,omitempty"`
	Aliases      map[string][]string `json:"aliases,omitempty"`
}

// PortMapping is one entry of the portMappings capability: hostPort on
// hostIP (every address when empty or 0.0.0.0) to containerPort, tcp
// (default) or udp.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// DNSConf is the "dns" key: a boolean, or the CNI dns dictionary (which
// turns the name service on, and adds its entries to the result).
type DNSConf struct {
	Off   bool
	Extra types.DNS
}

// UnmarshalJSON reads true, false, null or a dns dictionary.
func (d *DNSConf) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "null", "true":
		*d = DNSConf{}
		return nil
	case "false":
		*d = DNSConf{Off: true}
		return nil
	}
	var x types.DNS
	if err := json.Unmarshal(b, &x); err != nil {
		return fmt.Errorf("dns: want true, false or a dictionary of nameservers, domain, search and options: %w", err)
	}
	*d = DNSConf{Extra: x}
	return nil
}

// parseConf decodes stdin into a NetConf. Only the JSON shape is checked:
// DEL must go ahead with a config whose values are wrong.
func parseConf(stdin []byte) (*NetConf, *types.Error) {
	var c NetConf
	if err := json.Unmarshal(stdin, &c); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "decoding the network config: "+err.Error(), "")
	}
	return &c, nil
}

// validate checks what ADD, CHECK, GC and STATUS need from the config and
// returns the network it describes.
func (c *NetConf) validate() (netSpec, *types.Error) {
	cn := netSpec{
		Name: c.Name, Bridge: c.Bridge, MTU: c.MTU,
		Internal: c.Internal, ICC: c.ICC, Masquerade: c.IPMasq,
		IPv6: c.IPv6 || c.Subnet6 != "", NoIPv4: c.IPv4 != nil && !*c.IPv4,
		Mode4: c.GatewayModeIPv4, Mode6: c.GatewayModeIPv6,
	}
	if len(c.IPAM) > 0 {
		b, _ := json.Marshal(c.IPAM)
		return cn, types.NewError(types.ErrUnsupportedField, fmt.Sprintf("unsupported field \"ipam\": %s: plumb allocates addresses itself; set \"subnet\", \"gateway\" or \"ipRange\" instead", b), "")
	}
	if err := network.ValidateName(c.Name); err != nil {
		return cn, types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
	}
	if err := network.CheckFirewallChoice(c.Firewall); err != nil {
		return cn, invalidConf(fmt.Errorf("firewall %q: want nftables, iptables or auto", c.Firewall))
	}
	var err error
	if cn.Subnet, err = parsePrefix("subnet", c.Subnet); err != nil {
		return cn, invalidConf(err)
	}
	if cn.IPRange, err = parsePrefix("ipRange", c.IPRange); err != nil {
		return cn, invalidConf(err)
	}
	if c.Gateway != "" {
		if cn.Gateway, err = netip.ParseAddr(c.Gateway); err != nil || !cn.Gateway.Is4() {
			return cn, invalidConf(fmt.Errorf("gateway %q: want an IPv4 address such as 172.30.0.1", c.Gateway))
		}
	}
	if cn.Subnet6, err = parsePrefix6("subnet6", c.Subnet6); err != nil {
		return cn, invalidConf(err)
	}
	if cn.IPRange6, err = parsePrefix6("ipRange6", c.IPRange6); err != nil {
		return cn, invalidConf(err)
	}
	if c.Gateway6 != "" {
		if cn.Gateway6, err = netip.ParseAddr(c.Gateway6); err != nil || !cn.Gateway6.Is6() || cn.Gateway6.Is4In6() || cn.Gateway6.Zone() != "" {
			return cn, invalidConf(fmt.Errorf("gateway6 %q: want an IPv6 address such as fd00:1::1", c.Gateway6))
		}
	}
	if c.MTU < 0 || c.MTU > 65535 || (c.MTU != 0 && c.MTU < 68) {
		return cn, invalidConf(fmt.Errorf("mtu %d: must be between 68 and 65535", c.MTU))
	}
	return cn, nil
}

func parsePrefix(field, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s %q: want an IPv4 CIDR such as 172.30.0.0/24", field, s)
	}
	return p, nil
}

func parsePrefix6(field, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%s %q: want an IPv6 CIDR such as fd00:1::/64", field, s)
	}
	return p, nil
}

func invalidConf(err error) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, "invalid network config: "+err.Error(), "")
}
