package explain

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
)

// onBridge: from the host straight onto n's bridge, to dst.
func (x *run) onBridge(n *network.Network, dst netip.Addr, port uint16) {
	e := x.w.byIP[dst]
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
