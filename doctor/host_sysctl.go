package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/plumbnet/plumb/network"
)

// bridgeNFCallIPTables exists once br_netfilter is loaded; 1 sends bridged
// IPv4 traffic through iptables.
const bridgeNFCallIPTables = "net/bridge/bridge-nf-call-iptables"

// checkIPForward reports net.ipv4.ip_forward off while a network forwards
// IPv4 to the outside. plumb turns it on at create: --fix turns it on
// again and records that plumb did (so the last network rm turns it off).
// Equivalent to: `sysctl net.ipv4.ip_forward`.
func checkIPForward(v *hostView) []*Finding {
	return checkForward(v, "ip-forward", "net.ipv4.ip_forward", routes4,
		"the host forwards nothing: the containers of every network reach nothing outside, and published ports answer nothing from other hosts")
}

// checkIP6Forward is checkIPForward for IPv6: net.ipv6.conf.all.forwarding
// under a network with IPv6. Equivalent to:
// `sysctl net.ipv6.conf.all.forwarding`.
func checkIP6Forward(v *hostView) []*Finding {
	return checkForward(v, "ip6-forward", "net.ipv6.conf.all.forwarding", routes6,
		"the host forwards no IPv6: the containers of its IPv6 networks reach nothing outside over IPv6, and their published ports answer nothing over IPv6 from other hosts")
}

// checkForward reports the forwarding sysctl key (dotted) off while a
// network of which has holds forwards to the outside; means is what it
// costs.
func checkForward(v *hostView, check, key string, has func(*network.Network) bool, means string) []*Finding {
	nets := routing(v.nets, has)
	if len(nets) == 0 {
		return nil
	}
	val, err := v.sysctl(strings.ReplaceAll(key, ".", "/"))
	if err != nil || val == "1" {
		return nil
	}
	return []*Finding{{Check: check, Severity: Problem, Subject: key,
		What: "it is " + val + " (off)", Means: means,
		Fix: "turn it on (`sysctl -w " + key + "=1`) and record it, as network create does", Owned: true,
		repair: restoreAny(v.m, nets)}}
}

// checkAcceptRA reports a link whose IPv6 default route comes from router
// advertisements, with accept_ra 1, while IPv6 forwarding is on under a
// network with IPv6: a router ignores advertisements at accept_ra 1, so
// the host loses its IPv6 default route when it expires. Not plumb's to
// change (the link is the host's). Equivalent to:
// `ip -6 route show default proto ra; sysctl net.ipv6.conf.LINK.accept_ra`.
func checkAcceptRA(v *hostView) []*Finding {
	if len(routing(v.nets, routes6)) == 0 {
		return nil
	}
	if fwd, err := v.sysctl("net/ipv6/conf/all/forwarding"); err != nil || fwd != "1" {
		return nil
	}
	var out []*Finding
	for _, l := range v.raLinks {
		if ra, err := v.sysctl("net/ipv6/conf/" + l + "/accept_ra"); err != nil || ra != "1" {
			continue
		}
		out = append(out, &Finding{Check: "accept-ra", Severity: Problem, Subject: "link " + l,
			What:  "its IPv6 default route comes from router advertisements and its accept_ra is 1, while IPv6 forwarding is on (for plumb's IPv6 networks)",
			Means: "a forwarding host ignores advertisements at accept_ra 1: when the route expires the host loses its IPv6 default route",
			Fix:   "take advertisements while forwarding: `sysctl -w net.ipv6.conf." + l + ".accept_ra=2` (the host's setting: plumb does not change it)"})
	}
	return out
}

// routes4 and routes6 report whether a network routes that family: it
// has it with a gateway (not isolated), as network create turns
// forwarding on for.
func routes4(n *network.Network) bool { return n.IPv4() && n.Gateway.IsValid() }
func routes6(n *network.Network) bool { return n.IPv6() && n.Gateway6.IsValid() }

// routing are the networks of nets that are not internal and of which
// has holds (a gateway of the family checked).
func routing(nets []*network.Network, has func(*network.Network) bool) []*network.Network {
	var out []*network.Network
	for _, n := range nonInternal(nets) {
		if has(n) {
			out = append(out, n)
		}
	}
	return out
}

// checkRouteLocalnet reports route_localnet off on the bridge of a network
// that forwards (network create turns it on, after its guard). A missing
// bridge is the network check's finding. Equivalent to:
// `sysctl net.ipv4.conf.BRIDGE.route_localnet`.
func checkRouteLocalnet(v *hostView) []*Finding {
	var out []*Finding
	for _, n := range routing(v.nets, (*network.Network).IPv4) {
		val, err := v.sysctl("net/ipv4/conf/" + n.Bridge + "/route_localnet")
		if err != nil || val == "1" {
			continue
		}
		out = append(out, &Finding{Check: "route-localnet", Severity: Problem, Subject: netSubject(n),
			What:  "route_localnet is off on its bridge",
			Means: "connections from the host's 127.0.0.1 to its published ports get no answer (other addresses still work)",
			Fix:   "turn it on after its guard (`sysctl -w net.ipv4.conf." + n.Bridge + ".route_localnet=1`), as network create does", Owned: true,
			repair: restore(v.m, n)})
	}
	return out
}

// checkRPFilter reports strict reverse-path filtering where it drops
// plumb's traffic. Strict mode (1) drops a packet that comes in on an
// interface other than the one the host routes its source through. Each
// network's subnet is routed through its own bridge, so the traffic of a
// container with one network passes (outbound, published ports, hairpin,
// localhost), and loose mode (2) passes everything. What breaks is a
// target on two networks that publishes ports on the one its default
// route does not use: its replies leave through the other network's
// bridge with a source of the first's subnet, and strict rp_filter there
// drops them. The kernel uses the larger of conf.all and conf.BRIDGE.
// Not plumb's to change. Equivalent to: `sysctl
// net.ipv4.conf.{all,BRIDGE}.rp_filter`.
func checkRPFilter(v *hostView) []*Finding {
	byName := map[string]*network.Network{}
	for _, n := range v.nets {
		byName[n.Name] = n
	}
	var out []*Finding
	for _, t := range multiHomed(v.eps) {
		def := byName[t.def.Network]
		if def == nil || !def.IPv4() || v.rpFilter(def.Bridge) != 1 {
			continue // rp_filter is IPv4's
		}
		for _, ep := range t.published {
			n := byName[ep.Network]
			if n == nil || n.Internal || !n.IPv4() {
				continue
			}
			out = append(out, &Finding{Check: "rp-filter", Severity: Problem, Subject: netSubject(def),
				What: fmt.Sprintf("reverse-path filtering is strict (net.ipv4.conf.all or .%s.rp_filter is 1), and %s, whose default route goes through it, publishes ports on network %s",
					def.Bridge, ep.Target, n.Name),
				Means: fmt.Sprintf("the replies of those ports leave %s through %s with a source in %s, and are dropped as spoofed: the ports answer nothing from other hosts or from the host's own addresses (127.0.0.1 still works)",
					ep.Target, def.Bridge, n.Subnet),
				Fix: "make it loose on that bridge (`sysctl -w net.ipv4.conf." + def.Bridge + ".rp_filter=2`), or publish the ports on network " + def.Name})
		}
	}
	return out
}

// rpFilter is the reverse-path filtering mode in force on bridge br: the
// larger of conf.all and conf.BRIDGE; -1 when it cannot be read.
func (v *hostView) rpFilter(br string) int {
	mode := -1
	for _, key := range []string{"net/ipv4/conf/all/rp_filter", "net/ipv4/conf/" + br + "/rp_filter"} {
		val, err := v.sysctl(key)
		if err != nil {
			return -1
		}
		if n, err := strconv.Atoi(val); err == nil && n > mode {
			mode = n
		}
	}
	return mode
}

// homed is one target with endpoints on more than one network.
type homed struct {
	def       *network.Endpoint   // the endpoint its default route goes through
	published []*network.Endpoint // its other endpoints that publish ports
}

// multiHomed groups the live endpoints by namespace and returns the
// targets whose default route goes through one network while they publish
// ports on another.
func multiHomed(eps []*network.Endpoint) []homed {
	byNS := map[uint64][]*network.Endpoint{}
	var order []uint64
	for _, ep := range eps {
		if ep.Stale() {
			continue
		}
		k := ep.NamespaceKey()
		if byNS[k] == nil {
			order = append(order, k)
		}
		byNS[k] = append(byNS[k], ep)
	}
	var out []homed
	for _, k := range order {
		var h homed
		for _, ep := range byNS[k] {
			if ep.DefaultRoute {
				h.def = ep
			}
		}
		for _, ep := range byNS[k] {
			if ep != h.def && len(ep.Ports) > 0 {
				h.published = append(h.published, ep)
			}
		}
		if h.def != nil && len(h.published) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// checkBrNetfilter says whether bridged traffic passes through iptables,
// and what that means for icc=false and hairpin. A note: both ways work.
// Equivalent to: `test -d /sys/module/br_netfilter; sysctl
// net.bridge.bridge-nf-call-iptables`.
func checkBrNetfilter(v *hostView) []*Finding {
	if len(v.nets) == 0 {
		return nil
	}
	val, err := v.sysctl(bridgeNFCallIPTables)
	if errors.Is(err, fs.ErrNotExist) {
		val = "absent"
	}
	f := &Finding{Check: "br-netfilter", Severity: Note, Subject: "br_netfilter"}
	switch {
	case v.brNetfilter && val == "1":
		f.What = "loaded, with net.bridge.bridge-nf-call-iptables = 1: traffic bridged between containers of one network passes through iptables FORWARD"
		f.Means = "on icc=false networks bridge port isolation stops their containers from reaching each other, directly or through a published port (bridged back, not routed), and plumb's DROP rule stops them again; elsewhere a container reaching its own published port is bridged back to its own port, which works because plumb sets hairpin on it; under a FORWARD policy DROP even traffic inside a network needs plumb's rules"
		f.Fix = "nothing to do (`sysctl -w net.bridge.bridge-nf-call-iptables=0` keeps bridged traffic out of iptables, but Docker wants it on)"
	case v.brNetfilter:
		f.What = "loaded, with net.bridge.bridge-nf-call-iptables = " + val + ": bridged traffic does not pass through iptables"
		f.Means = noBrNetfilter
		f.Fix = "nothing to do"
	default:
		f.What = "not loaded: bridged traffic does not pass through iptables"
		f.Means = noBrNetfilter
		f.Fix = "nothing to do (Docker loads it: `modprobe br_netfilter`)"
	}
	return []*Finding{f}
}

// noBrNetfilter is what bridged traffic outside iptables means for plumb.
const noBrNetfilter = "on icc=false networks bridge port isolation alone stops direct traffic between containers (it holds), and plumb's DROP rule stops their reaching each other through a published port, which is routed through the host; a container reaching its own published port is routed through the host and back"
