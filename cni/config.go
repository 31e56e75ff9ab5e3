package cni

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/plumbnet/plumb/network"
)

// NetConf is plumb's network config. Beside the standard keys it takes the
// options of `plumb network create`, each optional:
//
//	{
//	  "cniVersion": "1.0.0", "name": "sinatra-net", "type": "plumb",
//	  "subnet": "172.30.0.0/24", "gateway": "172.30.0.1", "ipRange": "172.30.0.128/25",
//	  "bridge": "br-sinatra", "mtu": 1500,
//	  "internal": false, "icc": true, "ipMasq": true,
//	  "dns": true,
//	  "stateDir": "/var/lib/plumb",
//	  "capabilities": {"portMappings": true, "ips": true, "mac": true, "aliases": true}
//	}
//
// "dns" is true (the default: plumb's daemon serves the network's names on
// its gateway address, and the result names it), false (no name service),
// or the standard CNI dns dictionary, whose entries are added to the
// result after the gateway. "stateDir" defaults to $PLUMB_STATE_DIR, else
// /var/lib/plumb.
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
	Bridge           string               `json:"bridge,omitempty"`
	MTU              int                  `json:"mtu,omitempty"`
	Internal         *bool                `json:"internal,omitempty"`
	ICC              *bool                `json:"icc,omitempty"`
	IPMasq           *bool                `json:"ipMasq,omitempty"`
	DNS              DNSConf              `json:"dns"`
	StateDir         string               `json:"stateDir,omitempty"`
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
func (c *NetConf) validate() (network.CNINetwork, *types.Error) {
	cn := network.CNINetwork{
		Name: c.Name, Bridge: c.Bridge, MTU: c.MTU,
		Internal: c.Internal, ICC: c.ICC, Masquerade: c.IPMasq,
	}
	if len(c.IPAM) > 0 {
		b, _ := json.Marshal(c.IPAM)
		return cn, types.NewError(types.ErrUnsupportedField, fmt.Sprintf("unsupported field \"ipam\": %s: plumb allocates addresses itself; set \"subnet\", \"gateway\" or \"ipRange\" instead", b), "")
	}
	if err := network.ValidateName(c.Name); err != nil {
		return cn, types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
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

func invalidConf(err error) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, "invalid network config: "+err.Error(), "")
}

// envArgs are the CNI_ARGS plumb reads: IP and MAC, and IgnoreUnknown
// for the rest (Kubernetes passes K8S_POD_NAME and the like).
type envArgs struct {
	types.CommonArgs
	IP  types.UnmarshallableString
	MAC types.UnmarshallableString
}

// attachRequest gathers what an ADD asks for beside the network: the
// address and MAC (capabilities first, then CNI_ARGS) and the aliases of
// this network.
func (c *NetConf) attachRequest(cniArgs string) (ip netip.Addr, mac string, aliases []string, e *types.Error) {
	var a envArgs
	if err := types.LoadArgs(cniArgs, &a); err != nil {
		return ip, "", nil, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS: "+err.Error()+" (add IgnoreUnknown=1 to pass arguments plumb does not use)", "")
	}
	ipText, ipFrom := string(a.IP), "CNI_ARGS IP"
	if ips := c.RuntimeConfig.IPs; len(ips) > 0 {
		if len(ips) > 1 {
			return ip, "", nil, invalidConf(fmt.Errorf("runtimeConfig ips %q: plumb gives one IPv4 address per attachment", ips))
		}
		ipText, ipFrom = ips[0], "runtimeConfig ips"
	}
	if ipText != "" {
		// An address, or an address with the network's prefix length.
		s, _, _ := strings.Cut(ipText, "/")
		var err error
		if ip, err = netip.ParseAddr(s); err != nil || !ip.Is4() {
			return netip.Addr{}, "", nil, invalidConf(fmt.Errorf("%s %q: want an IPv4 address", ipFrom, ipText))
		}
	}
	mac = string(a.MAC)
	if c.RuntimeConfig.MAC != "" {
		mac = c.RuntimeConfig.MAC
	}
	aliases = c.RuntimeConfig.Aliases[c.Name]
	return ip, mac, aliases, nil
}

// publish turns the portMappings capability into plumb's port specs, one
// host port to one container port each. IPv6 host addresses and protocols
// other than tcp and udp are refused (code 7), as `attach -p` refuses them.
func (c *NetConf) publish() ([]network.PortSpec, *types.Error) {
	var out []network.PortSpec
	for _, pm := range c.RuntimeConfig.PortMappings {
		bad := func(why string) *types.Error {
			return invalidConf(fmt.Errorf("runtimeConfig portMappings %+v: %s", pm, why))
		}
		spec := network.PortSpec{Proto: strings.ToLower(pm.Protocol)}
		switch spec.Proto {
		case "":
			spec.Proto = "tcp"
		case "tcp", "udp":
		default:
			return nil, bad("protocol must be tcp or udp")
		}
		if pm.HostPort < 1 || pm.HostPort > 65535 || pm.ContainerPort < 1 || pm.ContainerPort > 65535 {
			return nil, bad("ports must be 1-65535")
		}
		spec.HostPort, spec.HostPortEnd = uint16(pm.HostPort), uint16(pm.HostPort)
		spec.Port, spec.PortEnd = uint16(pm.ContainerPort), uint16(pm.ContainerPort)
		if pm.HostIP != "" {
			ip, err := netip.ParseAddr(pm.HostIP)
			if err != nil || !ip.Is4() {
				return nil, bad("hostIP must be an IPv4 address (plumb networks are IPv4)")
			}
			if !ip.IsUnspecified() {
				spec.HostIP = ip
			}
		}
		out = append(out, spec)
	}
	return out, nil
}
