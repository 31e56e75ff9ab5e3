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
// addresses (at most one per family), the MAC (capabilities first, then
// CNI_ARGS) and the aliases of this network, into the attach options.
func (c *NetConf) attachRequest(cniArgs string) (o network.AttachOptions, e *types.Error) {
	var a envArgs
	if err := types.LoadArgs(cniArgs, &a); err != nil {
		return o, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS: "+err.Error()+" (add IgnoreUnknown=1 to pass arguments plumb does not use)", "")
	}
	ips, from := strings.Split(string(a.IP), ","), "CNI_ARGS IP"
	if string(a.IP) == "" {
		ips = nil
	}
	if len(c.RuntimeConfig.IPs) > 0 {
		ips, from = c.RuntimeConfig.IPs, "runtimeConfig ips"
	}
	for _, text := range ips {
		// An address, or an address with the network's prefix length.
		s, _, _ := strings.Cut(strings.TrimSpace(text), "/")
		ip, err := netip.ParseAddr(s)
		switch {
		case err != nil || ip.Zone() != "" || ip.Is4In6():
			return o, invalidConf(fmt.Errorf("%s %q: want an IPv4 or IPv6 address", from, text))
		case ip.Is4() && !o.IP.IsValid():
			o.IP = ip
		case ip.Is6() && !o.IP6.IsValid():
			o.IP6 = ip
		default:
			return o, invalidConf(fmt.Errorf("%s %q: plumb gives one address per family per attachment", from, ips))
		}
	}
	o.MAC = string(a.MAC)
	if c.RuntimeConfig.MAC != "" {
		o.MAC = c.RuntimeConfig.MAC
	}
	o.Aliases = c.RuntimeConfig.Aliases[c.Name]
	return o, nil
}

// publish turns the portMappings capability into plumb's port specs, one
// host port to one container port each. Protocols other than tcp and udp,
// and host addresses `attach -p` would refuse (zoned, link-local,
// multicast, IPv4-mapped), are refused (code 7). A hostIP publishes on that
// address (0.0.0.0: every IPv4 one, ::: every IPv6 one), as `attach -p`
// and the reference portmap plugin do; an empty one on every address of
// each family the network has.
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
			ip, err := netip.ParseAddr(strings.Trim(pm.HostIP, "[]"))
			if err != nil || ip.Zone() != "" || ip.Is4In6() || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
				return nil, bad("hostIP must be an IPv4 or IPv6 unicast address")
			}
			spec.HostIP = ip
		}
		out = append(out, spec)
	}
	return out, nil
}
