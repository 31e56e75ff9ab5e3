package cni

import (
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/plumbnet/plumb/network"
)

// prevResult parses the config's prevResult.
func (c *NetConf) prevResult() (types.Result, *types.Error) {
	pc := &types.PluginConf{CNIVersion: c.CNIVersion, RawPrevResult: c.RawPrevResult}
	if err := version.ParsePrevResult(pc); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "prevResult: "+err.Error(), "")
	}
	return pc.PrevResult, nil
}

// expected reads from a CHECK's prevResult what it says about the
// container interface ifname: its MAC, its IPv4 addresses, and the routes
// through the gateways of those addresses' subnets.
func expected(prev types.Result, ifname string) (network.Expect, *types.Error) {
	var exp network.Expect
	r, err := current.NewResultFromResult(prev)
	if err != nil {
		return exp, types.NewError(types.ErrDecodingFailure, "prevResult: "+err.Error(), "")
	}
	idx := -1
	for i, intf := range r.Interfaces {
		if intf.Name == ifname && intf.Sandbox != "" {
			idx = i
			exp.MAC = intf.Mac
		}
	}
	if idx < 0 {
		return exp, types.NewError(types.ErrInternal, fmt.Sprintf("prevResult has no interface %q in a sandbox: it is not the result of plumb's ADD", ifname), "")
	}
	exp.IPs = []netip.Prefix{}
	for _, ipc := range r.IPs {
		if ipc.Interface == nil || *ipc.Interface != idx {
			continue
		}
		a, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok {
			continue
		}
		a = a.Unmap()
		ones, _ := ipc.Address.Mask.Size()
		exp.IPs = append(exp.IPs, netip.PrefixFrom(a, ones))
	}
	for _, rt := range r.Routes {
		gw, ok := netip.AddrFromSlice(rt.GW)
		dst, dok := netip.AddrFromSlice(rt.Dst.IP)
		if !ok || !dok {
			continue
		}
		gw, dst = gw.Unmap(), dst.Unmap()
		for _, p := range exp.IPs {
			if p.Masked().Contains(gw) {
				ones, _ := rt.Dst.Mask.Size()
				exp.Routes = append(exp.Routes, network.Route{Dst: netip.PrefixFrom(dst, ones), GW: gw})
				break
			}
		}
	}
	return exp, nil
}
