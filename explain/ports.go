package explain

import (
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/firewall/nftables"
	"github.com/plumbnet/plumb/network"
)

// publication is one published port of an endpoint.
type publication struct {
	e *network.Endpoint
	n *network.Network
	p firewall.Port
}

// findPublished finds the port published on x.dst:x.port/proto, and says
// whether one exists bound to loopback only (OUTPUT only).
func (x *run) findPublished(fromHost bool) (pub *publication, loopbackOnly bool) {
	if x.port == 0 {
		return nil, false
	}
	for _, e := range x.w.eps {
		n := x.w.byName[e.Network]
		if n == nil || !e.Alive() {
			continue
		}
		for _, m := range e.FirewallPorts() {
			if m.Proto != x.proto || m.HostPort != x.port {
				continue
			}
			// A loopback-only port is DNATed in OUTPUT alone: from outside
			// the host, whatever address DST names, no rule takes it.
			if m.HostIP.IsLoopback() && !fromHost {
				loopbackOnly = true
				continue
			}
			if m.HostIP.IsValid() && !m.HostIP.IsUnspecified() && m.HostIP != x.dst {
				continue
			}
			if x.dst.IsLoopback() && !fromHost {
				continue
			}
			return &publication{e: e, n: n, p: m}, loopbackOnly
		}
	}
	return nil, loopbackOnly
}

// published follows a published port to x.dst:x.port, if there is one:
// the DNAT, the forwarding (not from the host itself), the nat that gives
// the container a source it can answer, the listener. It reports whether
// a published port took the packet.
func (x *run) published(fromHost bool, in string, srcNet *network.Network, from netip.Addr) bool {
	pub, lo := x.findPublished(fromHost)
	if pub == nil {
		if lo {
			s := Step{What: "nat", Detail: fmt.Sprintf("port %d/%s is published on loopback only: no DNAT for traffic from outside the host (PLUMB-PREROUTING holds no rule for it)", x.port, x.proto),
				Command: "iptables -t nat -S PLUMB-PREROUTING"}
			if x.w.nft {
				s.Detail = fmt.Sprintf("port %d/%s is published on loopback only: its element is in @%s, which only chain output looks up: no DNAT for traffic from outside the host", x.port, x.proto, nftables.MapLoopPorts)
				s.Command = "nft list chain inet " + nftables.NetTable + " prerouting"
			}
			x.r.add(s)
		}
		return false
	}
	to := netip.AddrPortFrom(pub.p.ContainerIP, pub.p.ContainerPort)
	who := pub.e.Target
	if names := pub.e.Names(); len(names) > 0 {
		who = names[0]
	}
	if !x.dnat(pub, fromHost, fmt.Sprintf("published port %s of %s: DNAT to %s", pub.p, who, to)) {
		x.r.decide(Blocked, "the DNAT rule of published port "+pub.p.String()+" is missing (plumb drift)")
		return true
	}
	if fromHost {
		x.fromHostToPort(pub)
	} else if !x.forward(x.packet(in, pub.n.Bridge, from, pub.p.ContainerIP), true) {
		return true
	} else if srcNet == pub.n {
		why := fmt.Sprintf("hairpin within %s: the source becomes the gateway %s, so the reply comes back through the host", pub.n.Name, pub.n.Gateway)
		if x.w.nft {
			x.nftNATStep(pub.n, "plumb: hairpin to published ports", why)
		} else {
			r, _ := ruleOf(pub.n, iptables.ChainPostrouting, "-s", pub.n.Subnet.Masked().String(), "-o", pub.n.Bridge, "-m", "conntrack")
			x.ruleStep("nat", r, "MASQUERADE", why)
		}
	}
	if x.listenEndpoint(pub.e, to.Addr(), to.Port()) {
		x.r.add(Step{What: "return", Detail: fmt.Sprintf("replies: conntrack undoes the NAT (%s answers as %s:%d)", to, x.dst, x.port),
			Command: fmt.Sprintf("conntrack -L -p %s --orig-port-dst %d", x.proto, x.port)})
	}
	return true
}

// fromHostToPort: the host's own connection to its published port goes
// out onto the bridge; from 127.0.0.1 it needs route_localnet and a
// masquerade to a source the container can answer.
func (x *run) fromHostToPort(pub *publication) {
	x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("out of the host onto bridge %s of network %s (the host's own traffic: no FORWARD)", pub.n.Bridge, pub.n.Name)})
	if !x.dst.IsLoopback() {
		return
	}
	x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("route_localnet on %s lets 127.0.0.0/8 leave by it; plumb's guard drops any other such traffic", pub.n.Bridge),
		Command: "sysctl net.ipv4.conf." + pub.n.Bridge + ".route_localnet; nft list table inet plumb"})
	why := fmt.Sprintf("from localhost: the source becomes the gateway %s", pub.n.Gateway)
	if x.w.nft {
		x.nftNATStep(pub.n, "plumb: localhost to published ports", why)
		return
	}
	r, _ := ruleOf(pub.n, iptables.ChainPostrouting, "-s", "127.0.0.0/8", "-o", pub.n.Bridge)
	x.ruleStep("nat", r, "MASQUERADE", why)
}

// dnat is the DNAT step of published port pub, in the backend's terms.
// It reports whether the kernel holds the rule.
func (x *run) dnat(pub *publication, fromHost bool, detail string) bool {
	if x.w.nft {
		return x.nftDNAT(pub, fromHost, detail)
	}
	chain := iptables.ChainPrerouting
	if fromHost {
		chain = iptables.ChainOutput
	}
	var rule iptables.Rule
	for _, r := range iptables.PortRules(pub.n.Name, pub.e.ID, []firewall.Port{pub.p}) {
		if r.Chain == chain {
			rule = r
		}
	}
	return x.ruleStep("nat", rule, "DNAT", detail)
}
