package cni

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/plumbnet/plumb/network"
)

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
