package explain

import (
	"fmt"
	"net/netip"
	"strconv"

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

// findPublished finds the port published on x.dst:x.port/proto (a port
// of x.dst's family), and says whether one exists bound to loopback only
// (OUTPUT only; for IPv6, the daemon's relay).
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
			if m.Proto != x.proto || m.HostPort != x.port || m.Is6() != x.v6() {
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
		if lo && x.v6() {
			x.r.add(Step{What: "nat", Detail: fmt.Sprintf("port %d/%s is published on [::1] only: plumb's daemon relays it, and only the host itself reaches ::1 (no DNAT rule for it)", x.port, x.proto),
				Command: "plumb ps"})
		} else if lo {
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
	if fromHost && x.dst == netip.IPv6Loopback() {
		x.relay(pub, who, to)
		return true
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
		x.hairpin(pub.n)
	}
	if x.listenEndpoint(pub.e, to.Addr(), to.Port()) {
		x.r.add(Step{What: "return", Detail: fmt.Sprintf("replies: conntrack undoes the NAT (%s answers as %s)", to, netip.AddrPortFrom(x.dst, x.port)),
			Command: fmt.Sprintf("conntrack -L -p %s --orig-port-dst %d", x.proto, x.port)})
	}
	return true
}

// hairpin is the masquerade of a connection from network n to a port
// published by n itself.
func (x *run) hairpin(n *network.Network) {
	f := famOf(n, x.v6())
	why := fmt.Sprintf("hairpin within %s: the source becomes the gateway %s, so the reply comes back through the host", n.Name, f.gateway)
	switch {
	case x.w.nft && f.v6:
		x.nftNATStep(n, "plumb: hairpin to published ports (IPv6)", nftables.SetNATSubnets6, why)
	case x.w.nft:
		x.nftNATStep(n, "plumb: hairpin to published ports", nftables.SetNATSubnets, why)
	default:
		r, _ := ruleOf(n, f.v6, iptables.ChainPostrouting, "-s", f.subnet.Masked().String(), "-o", n.Bridge, "-m", "conntrack")
		x.ruleStep("nat", r, "MASQUERADE", why)
	}
}

// relay: the host's own connection to [::1]:PORT of an IPv6 published
// port. IPv6 has no route_localnet, so no DNAT can send it out through a
// bridge: plumb's daemon holds the port and relays the connection to the
// container (as docker-proxy does), from the host itself.
func (x *run) relay(pub *publication, who string, to netip.AddrPort) {
	x.r.add(Step{What: "nat", Detail: fmt.Sprintf("published port %s of %s: [::1] is not DNAT'd (IPv6 has no route_localnet); plumb's daemon relays it to %s",
		pub.p, who, to), Result: "RELAY", Command: "plumb ps; ss -ltnp 'sport = :" + strconv.Itoa(int(x.port)) + "'"})
	if !x.listen(hostNS, "the host (plumb's daemon's relay)", x.dst, x.port) {
		x.r.Verdict, x.r.Reason = "", ""
		x.r.decide(NoListener, fmt.Sprintf("nothing holds [::1]:%d/%s: plumb's daemon relays IPv6 loopback ports, and it is not running or not holding this one", x.port, x.proto))
		return
	}
	x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("the relay connects from the host to %s: out onto bridge %s of network %s (the host's own traffic: no FORWARD)", to, pub.n.Bridge, pub.n.Name)})
	if x.listenEndpoint(pub.e, to.Addr(), to.Port()) {
		x.r.add(Step{What: "return", Detail: fmt.Sprintf("replies come back to the relay, which answers as [::1]:%d", x.port)})
	}
}

// fromHostToPort: the host's own connection to its published port goes
// out onto the bridge; from 127.0.0.1 it needs route_localnet and a
// masquerade to a source the container can answer.
func (x *run) fromHostToPort(pub *publication) {
	x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("out of the host onto bridge %s of network %s (the host's own traffic: no FORWARD)", pub.n.Bridge, pub.n.Name)})
	if !x.dst.IsLoopback() || x.v6() {
		return
	}
	x.r.add(Step{What: "bridge", Detail: fmt.Sprintf("route_localnet on %s lets 127.0.0.0/8 leave by it; plumb's guard drops any other such traffic", pub.n.Bridge),
		Command: "sysctl net.ipv4.conf." + pub.n.Bridge + ".route_localnet; nft list table inet plumb"})
	why := fmt.Sprintf("from localhost: the source becomes the gateway %s", pub.n.Gateway)
	if x.w.nft {
		x.nftNATStep(pub.n, "plumb: localhost to published ports", nftables.SetNAT, why)
		return
	}
	r, _ := ruleOf(pub.n, false, iptables.ChainPostrouting, "-s", "127.0.0.0/8", "-o", pub.n.Bridge)
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
