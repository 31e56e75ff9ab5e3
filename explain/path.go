package explain

import (
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
)

// path follows the packet from SRC: its route, then wherever it lands.
func (x *run) path() {
	rt, err := nsview.RouteGet(x.src.nsPath, x.dst)
	cmd := x.src.in("ip route get " + x.dst.String())
	if err != nil {
		x.r.add(Step{What: "route", Detail: fmt.Sprintf("no route to %s in SRC: %v", x.dst, err), Result: "unreachable", Command: cmd})
		x.r.decide(NoRoute, fmt.Sprintf("SRC has no route to %s", x.dst))
		return
	}
	x.r.add(Step{What: "route", Detail: "route: " + routeText(x.dst, rt), Command: cmd})
	if x.src.host {
		x.fromHost(rt)
		return
	}
	if rt.Dev == "lo" {
		x.r.add(Step{What: "route", Detail: "delivered inside SRC itself (its own address)"})
		x.listen(x.src.nsPath, "SRC", x.dst, x.port)
		return
	}
	for _, e := range x.src.eps {
		if e.IfName == rt.Dev {
			x.fromEndpoint(e, rt)
			return
		}
	}
	x.fromForeign(rt)
}

func routeText(dst netip.Addr, rt nsview.Route) string {
	s := dst.String()
	if rt.Gateway.IsValid() {
		s += " via " + rt.Gateway.String()
	}
	s += " dev " + rt.Dev
	if rt.Src.IsValid() {
		s += " src " + rt.Src.String()
	}
	return s
}

// fromHost: SRC is the host itself. Its own traffic meets the nat
// OUTPUT chain (published ports) and no FORWARD.
func (x *run) fromHost(rt nsview.Route) {
	if x.w.isHost(x.dst) {
		if x.published(true, "", nil, rt.Src) {
			return
		}
		x.r.add(Step{What: "route", Detail: "delivered to the host itself"})
		if x.input("lo", rt.Src) {
			x.listen(hostNS, "the host", x.dst, x.port)
		}
		return
	}
	if n := x.w.byBridge[rt.Dev]; n != nil {
		x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("out of the host onto bridge %s of network %s (the host's own traffic: no FORWARD)", n.Bridge, n.Name)})
		x.onBridge(n, x.dst, x.port)
		return
	}
	x.beyond(rt.Dev)
}

// fromEndpoint: SRC leaves by its endpoint e on a plumb network.
func (x *run) fromEndpoint(e *network.Endpoint, rt nsview.Route) {
	n := x.w.byName[e.Network]
	if n == nil {
		x.r.add(Step{What: "route", Detail: fmt.Sprintf("%s is plumb's endpoint on network %s, which is gone", rt.Dev, e.Network)})
		x.r.decide(NoRoute, "the network of SRC's interface is gone")
		return
	}
	veth := fmt.Sprintf("%s's peer %s on bridge %s", rt.Dev, e.HostVeth, n.Bridge)
	gw := gatewayOf(n, x.dst)
	switch {
	case !rt.Gateway.IsValid() && x.dst != gw:
		x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("bridged: same network %s (%s), not routed", n.Name, veth),
			Command: "bridge link show dev " + e.HostVeth})
		x.bridged(n, e)
	case rt.Gateway.IsValid() && rt.Gateway != gw:
		x.r.add(Step{What: "route", Detail: fmt.Sprintf("next hop %s is not plumb's gateway of %s (%s)", rt.Gateway, n.Name, gw)})
		x.beyond(rt.Dev)
	default:
		x.r.add(Step{What: "route", Detail: fmt.Sprintf("routed via the gateway %s of network %s (%s): into the host", gw, n.Name, veth)})
		x.atHost(n.Bridge, n, rt.Src)
	}
}

// fromForeign: SRC is a namespace plumb did not attach (another host). It
// reaches the host when its next hop is one of the host's addresses.
func (x *run) fromForeign(rt nsview.Route) {
	hop := x.dst
	if rt.Gateway.IsValid() {
		hop = rt.Gateway
	}
	in, ok := x.w.hostAddrs[hop]
	if !ok {
		x.beyond(rt.Dev)
		return
	}
	x.r.add(Step{What: "route", Detail: fmt.Sprintf("arrives at the host on %s (%s)", in, hop)})
	x.atHost(in, nil, rt.Src)
}

// atHost: the packet came into the host on link in (from network srcNet,
// nil when not plumb's), from address from.
func (x *run) atHost(in string, srcNet *network.Network, from netip.Addr) {
	if !x.w.isHost(x.dst) {
		x.routed(in, srcNet, from)
		return
	}
	if x.published(false, in, srcNet, from) {
		return
	}
	x.r.add(Step{What: "route", Detail: fmt.Sprintf("delivered to the host itself (%s is the host's): INPUT, no FORWARD", x.dst)})
	if !x.input(in, from) {
		return
	}
	if x.listen(hostNS, "the host", x.dst, x.port) {
		x.gatewayDNS(from)
	}
}

// gatewayDNS: the daemon's DNS on a network's gateway answers only that
// network's subnet; the rest is dropped without a word.
func (x *run) gatewayDNS(from netip.Addr) bool {
	if x.port != 53 || x.src.host {
		return false
	}
	for _, n := range x.w.nets {
		f := famOf(n, x.v6())
		if f.gateway.IsValid() && f.gateway == x.dst && !f.subnet.Contains(from) {
			x.r.add(Step{What: "listener", Detail: fmt.Sprintf("plumb's DNS listener on %s (gateway of %s) answers only clients of %s; %s is not one: dropped", netip.AddrPortFrom(x.dst, 53), n.Name, f.subnet, from),
				Result: "DROP", Command: "plumb dns ls --net " + n.Name})
			x.r.decide(Blocked, fmt.Sprintf("the gateway DNS of network %s serves only its own subnet %s (plumb's daemon drops other clients)", n.Name, f.subnet))
			return true
		}
	}
	return false
}

// routed: the host forwards the packet on to x.dst.
func (x *run) routed(in string, srcNet *network.Network, from netip.Addr) {
	if e := x.w.byIP[x.dst]; e != nil {
		n := x.w.byName[e.Network]
		x.r.add(Step{What: "route", Detail: fmt.Sprintf("the host routes it to bridge %s of network %s", n.Bridge, n.Name), Command: "ip route get " + x.dst.String()})
		if !x.forward(x.packet(in, n.Bridge, from, x.dst), false) {
			return
		}
		x.listenEndpoint(e, x.dst, x.port)
		return
	}
	rt, err := nsview.RouteGet(hostNS, x.dst)
	if err != nil {
		x.r.add(Step{What: "route", Detail: fmt.Sprintf("the host has no route to %s: %v", x.dst, err), Command: "ip route get " + x.dst.String()})
		x.r.decide(NoRoute, "the host has no route to "+x.dst.String())
		return
	}
	x.r.add(Step{What: "route", Detail: "the host routes it: " + routeText(x.dst, rt), Command: "ip route get " + x.dst.String()})
	if n := x.w.byBridge[rt.Dev]; n != nil {
		if x.forward(x.packet(in, rt.Dev, from, x.dst), false) {
			x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("no endpoint of network %s has %s", n.Name, x.dst)})
			x.r.decide(NoRoute, fmt.Sprintf("nothing on network %s has %s", n.Name, x.dst))
		}
		return
	}
	if !x.forward(x.packet(in, rt.Dev, from, x.dst), false) {
		return
	}
	if srcNet != nil {
		x.masquerade(srcNet, rt.Dev, rt.Src)
	}
	x.beyond(rt.Dev)
}

// beyond: DST is past what this host can see. The verdict is reachable
// with a reason that says how far the path was followed.
func (x *run) beyond(dev string) {
	x.r.add(Step{What: "route", Detail: fmt.Sprintf("leaves by %s for %s, beyond plumb's host: its listeners are not visible from here", dev, x.dst)})
	x.r.decide(Reachable, "reachable as far as this host: the path leaves by "+dev)
}
