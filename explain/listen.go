package explain

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
	"github.com/plumbnet/plumb/overlay"
	"github.com/vishvananda/netlink"
)

// onBridge: from the host straight onto n's bridge, to dst.
func (x *run) onBridge(n *network.Network, dst netip.Addr, port uint16) {
	e := x.w.byIP[dst]
	if ra, ok := x.w.remotes[dst]; (e == nil || e.Network != n.Name) && ok && ra.n.Name == n.Name {
		x.r.add(Step{What: "overlay", Detail: fmt.Sprintf("%s is endpoint %s of overlay network %s on host %s: the host's own packets reach it through the tunnel, but its replies go to its own host's gateway (the gateway is local on every host), not back here",
			dst, ra.r.ID, n.Name, ra.r.Host)})
		x.r.decide(NoRoute, "a host reaches another host's overlay endpoints only through that host (a published port there)")
		return
	}
	if e == nil || e.Network != n.Name {
		x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("no endpoint of network %s has %s", n.Name, dst)})
		x.r.decide(NoRoute, fmt.Sprintf("nothing on network %s has %s", n.Name, dst))
		return
	}
	x.listenEndpoint(e, dst, port)
}

// bridged: SRC's endpoint and DST share network n's bridge.
func (x *run) bridged(n *network.Network, from *network.Endpoint) {
	e := x.w.byIP[x.dst]
	if ra, ok := x.w.remotes[x.dst]; (e == nil || e.Network != n.Name) && ok && ra.n.Name == n.Name {
		x.overlayed(ra)
		return
	}
	if e == nil || e.Network != n.Name {
		who := "ARP"
		if x.v6() {
			who = "neighbour solicitation"
		}
		x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("no endpoint of network %s has %s: nothing answers %s", n.Name, x.dst, who)})
		x.r.decide(NoRoute, fmt.Sprintf("nothing on network %s has %s", n.Name, x.dst))
		return
	}
	switch {
	case !n.ICC:
		x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("bridge ports %s and %s are isolated", from.HostVeth, e.HostVeth),
			Rule: "bridge link set dev " + e.HostVeth + " isolated on", Result: "DROP", Command: "bridge -d link show dev " + e.HostVeth})
		x.r.decide(Blocked, fmt.Sprintf("isolated bridge ports: network %s is --icc=false", n.Name))
		return
	case x.brnf():
		src := from.IP.Addr()
		if x.v6() {
			src = from.IP6.Addr()
		}
		if !x.forward(x.packet(n.Bridge, n.Bridge, src, x.dst), false) {
			return
		}
	default:
		x.r.add(Step{What: "firewall", Detail: x.ipt() + " not consulted: bridged frames bypass it (br_netfilter off)",
			Command: "sysctl net.bridge.bridge-nf-call-" + x.ipt()})
	}
	x.listenEndpoint(e, x.dst, x.port)
}

// brnf tells whether bridged frames of the packet's family go through
// iptables (ip6tables): br_netfilter's bridge-nf-call-iptables (-ip6tables).
func (x *run) brnf() bool {
	if x.v6() {
		return x.w.brnf6
	}
	return x.w.brnf
}

// listenEndpoint is listen in e's namespace.
func (x *run) listenEndpoint(e *network.Endpoint, a netip.Addr, port uint16) bool {
	who := "endpoint " + e.Target
	if names := e.Names(); len(names) > 0 {
		who = names[0]
	}
	return x.listen(e.NetNS, who, a, port)
}

// listen says what listens on a:port/proto in the namespace nsPath, and
// decides "no listener" when nothing does. Without a port there is
// nothing to ask.
func (x *run) listen(nsPath, who string, a netip.Addr, port uint16) bool {
	if port == 0 {
		return true
	}
	flag := "-ltnp"
	if x.proto == "udp" {
		flag = "-lunp"
	}
	cmd := fmt.Sprintf("ss %s 'sport = :%d'", flag, port)
	cmd = nsview.Enter(nsPath, cmd)
	read := x.w.listening
	if read == nil {
		read = nsview.Listening
	}
	socks, err := read(nsPath)
	if err != nil {
		x.r.add(Step{What: "listener", Detail: fmt.Sprintf("the listeners of %s could not be read: %v", who, err), Command: cmd})
		return true
	}
	for _, s := range socks {
		la := s.Local.Addr().Unmap()
		if strings.HasPrefix(s.Proto, x.proto) && s.Local.Port() == port && (la.IsUnspecified() || la == a) {
			proc := ""
			if s.PID > 0 {
				proc = fmt.Sprintf(", pid %d (%s)", s.PID, s.Command)
			}
			x.r.add(Step{What: "listener", Detail: fmt.Sprintf("%s %s listens in %s%s", s.Proto, s.Local, who, proc), Command: cmd})
			return true
		}
	}
	at := netip.AddrPortFrom(a, port)
	x.r.add(Step{What: "listener", Detail: fmt.Sprintf("nothing listens on %s/%s in %s", at, x.proto, who), Result: "refused", Command: cmd})
	x.r.decide(NoListener, fmt.Sprintf("nothing listens on %s/%s in %s", at, x.proto, who))
	return false
}

// overlayed: DST is an endpoint of overlay network ra.n on another host:
// the bridge sends its frames to the network's VXLAN port, whose static
// FDB entry tunnels them to that host's underlay address (UDP 4789, the
// network's VNI) and whose neighbour entry answers ARP for it here. What
// happens on that host is for `plumb explain` there.
func (x *run) overlayed(ra remoteAt) {
	n, r := ra.n, ra.r
	dev := overlay.VXLANName(n.Name)
	cmd := "bridge fdb show dev " + dev + "; ip neigh show dev " + dev
	var vtep netip.Addr
	if h, err := netlink.NewHandle(); err == nil {
		rs, _ := overlay.Remotes(h, dev)
		h.Close()
		for _, p := range rs {
			if p.IP == r.IP && strings.EqualFold(p.MAC.String(), r.MAC) {
				vtep = p.VTEP
			}
		}
	}
	if !vtep.IsValid() {
		x.r.add(Step{What: "overlay", Detail: fmt.Sprintf("%s is endpoint %s of overlay network %s on host %s, but %s has no FDB/neighbour entry for it (%s)", r.IP, r.ID, n.Name, r.Host, dev, r.MAC),
			Result: "DROP", Command: cmd})
		x.r.decide(NoRoute, fmt.Sprintf("the cluster agent has not programmed %s on %s (see `plumb doctor`)", r.IP, dev))
		return
	}
	x.r.add(Step{What: "overlay", Detail: fmt.Sprintf("%s is endpoint %s of overlay network %s on host %s: the bridge sends %s's frames to VXLAN port %s, which tunnels them to %s (UDP %d, VNI %d); ARP for it is answered here from %s's neighbour entry",
		r.IP, r.ID, n.Name, r.Host, r.MAC, dev, vtep, overlay.DefaultPort, n.VNI, dev), Command: cmd})
	x.r.decide(Reachable, fmt.Sprintf("tunnelled to host %s (%s); what it does there: `plumb explain` on that host", r.Host, vtep))
}
