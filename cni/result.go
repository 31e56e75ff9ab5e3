package cni

import (
	"cmp"
	"net"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/plumbnet/plumb/network"
)

// newResult is the CNI result of the endpoint ep of network n, whose container
// interface lives in the namespace at sandbox: the bridge, the host veth and
// the container interface (in that order), the container's address with
// the gateway, the default route when the attach made one, and the
// gateway as nameserver when dns is on. After prev (the prevResult of a
// plugin earlier in the chain), when there is one: its entries come first.
func newResult(ep *network.Endpoint, n *network.Network, sandbox string, dns DNSConf, prev types.Result) (*current.Result, error) {
	r := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	if prev != nil {
		var err error
		if r, err = current.NewResultFromResult(prev); err != nil {
			return nil, err
		}
	}
	base := len(r.Interfaces)
	r.Interfaces = append(r.Interfaces,
		// No MAC for the host side: nothing reads it, and asking the
		// kernel for it cost every ADD two netlink round trips.
		&current.Interface{Name: n.Bridge},
		&current.Interface{Name: ep.HostVeth, Mtu: n.MTU},
		&current.Interface{Name: ep.IfName, Mac: ep.MAC, Mtu: n.MTU, Sandbox: sandbox},
	)
	for _, fam := range []struct {
		ip    netip.Prefix
		gw    netip.Addr
		route bool
		dflt  netip.Prefix
	}{
		{ep.IP, n.Gateway, ep.DefaultRoute, netip.MustParsePrefix("0.0.0.0/0")},
		{ep.IP6, n.Gateway6, ep.DefaultRoute6, netip.MustParsePrefix("::/0")},
	} {
		if !fam.ip.IsValid() {
			continue
		}
		ipc := &current.IPConfig{Interface: current.Int(base + 2), Address: ipNet(fam.ip)}
		if fam.gw.IsValid() {
			ipc.Gateway = fam.gw.AsSlice()
		}
		r.IPs = append(r.IPs, ipc)
		if fam.route {
			r.Routes = append(r.Routes, &types.Route{Dst: ipNet(fam.dflt), GW: fam.gw.AsSlice()})
		}
	}
	if gw := cmp.Or(n.Gateway, n.Gateway6); !dns.Off && gw.IsValid() {
		r.DNS.Nameservers = append(append([]string{gw.String()}, r.DNS.Nameservers...), dns.Extra.Nameservers...)
		if dns.Extra.Domain != "" {
			r.DNS.Domain = dns.Extra.Domain
		}
		r.DNS.Search = append(r.DNS.Search, dns.Extra.Search...)
		r.DNS.Options = append(r.DNS.Options, dns.Extra.Options...)
	}
	return r, nil
}

func ipNet(p netip.Prefix) net.IPNet {
	return net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
