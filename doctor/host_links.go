package doctor

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/network"
)

// checkOverlap reports a route or an address of the host, on a link that
// is no plumb bridge, over a network's subnet: a VPN that came up after
// the network was made. Not plumb's to change: remove the route, or move
// the network to a free subnet. Equivalent to: `ip -4 route show table
// main; ip -4 addr show`, against each network's subnet.
func checkOverlap(v *hostView) []*Finding {
	ours := map[string]bool{}
	for _, n := range v.nets {
		ours[n.Bridge] = true
	}
	// An address brings its connected route: one finding, the address's.
	addressed := map[bridge.HostPrefix]bool{}
	for _, p := range v.prefixes {
		if p.Addr.IsValid() {
			addressed[bridge.HostPrefix{Prefix: p.Prefix, Link: p.Link}] = true
		}
	}
	var out []*Finding
	for _, n := range v.nets {
		if !n.IPv4() {
			continue // the host's IPv4 prefixes only (an IPv6 subnet is checked against IPv6 routes at create)
		}
		seen := map[bridge.HostPrefix]bool{}
		for _, p := range v.prefixes {
			if ours[p.Link] || !p.Prefix.Overlaps(n.Subnet) || seen[p] || (!p.Addr.IsValid() && addressed[p]) {
				continue
			}
			seen[p] = true
			out = append(out, overlapFinding(n, p))
		}
	}
	return out
}

// overlapFinding words the overlap of host prefix p with n's subnet.
func overlapFinding(n *network.Network, p bridge.HostPrefix) *Finding {
	on := " via " + p.Link
	if p.Link == "" {
		on = " (through no link: blackhole, unreachable or multipath)"
	}
	move := fmt.Sprintf("move the network to a free subnet: `plumb network rm --force %s` and `plumb network create %s --subnet <free subnet>`, then attach its containers again", n.Name, n.Name)
	f := &Finding{Check: "subnet-overlap", Severity: Problem, Subject: netSubject(n)}
	switch {
	case p.Addr.IsValid():
		addr := netip.PrefixFrom(p.Addr, p.Prefix.Bits())
		f.What = fmt.Sprintf("the host has address %s on %s, over its subnet %s", addr, p.Link, n.Subnet)
		f.Means = fmt.Sprintf("the addresses of %s are reached through %s or through the bridge, not both: either the containers or the hosts behind %s are cut off", p.Prefix, p.Link, p.Link)
		f.Fix = fmt.Sprintf("if %s's address is not needed, `ip addr del %s dev %s`; otherwise %s", p.Link, addr, p.Link, move)
	case p.Prefix.Bits() < n.Subnet.Bits():
		f.What = fmt.Sprintf("the host routes %s%s, which holds its subnet %s", p.Prefix, on, n.Subnet)
		f.Means = fmt.Sprintf("the bridge's more specific route wins: the hosts of %s behind that route cannot be reached from here", n.Subnet)
		f.Fix = fmt.Sprintf("if the route is not needed, `ip route del %s%s`; otherwise %s", p.Prefix, devArg(p), move)
	case p.Prefix.Bits() > n.Subnet.Bits():
		f.What = fmt.Sprintf("the host routes %s%s, inside its subnet %s", p.Prefix, on, n.Subnet)
		f.Means = fmt.Sprintf("the more specific route wins: traffic to %s goes there, not to the bridge, and the containers with those addresses are cut off", p.Prefix)
		f.Fix = fmt.Sprintf("if the route is not needed, `ip route del %s%s`; otherwise %s", p.Prefix, devArg(p), move)
	default:
		f.What = fmt.Sprintf("the host routes its subnet %s%s too", p.Prefix, on)
		f.Means = "of the two routes the one with the lower metric wins: either the containers or the hosts behind that route are cut off"
		f.Fix = fmt.Sprintf("if the route is not needed, `ip route del %s%s`; otherwise %s", p.Prefix, devArg(p), move)
	}
	return f
}

func devArg(p bridge.HostPrefix) string {
	if p.Link == "" {
		return ""
	}
	return " dev " + p.Link
}

// checkStrayGuards reports bridges the localnet guard holds that no
// network has. The guard of a name no interface has with route_localnet
// on is a leftover --fix deletes; while such an interface has it on, the
// guard must stay, and the interface is a person's to look at.
// Equivalent to: `nft list set inet plumb localnet_bridges`.
func checkStrayGuards(v *hostView) []*Finding {
	var out []*Finding
	for _, br := range v.strayGuards {
		if val, err := v.sysctl("net/ipv4/conf/" + br + "/route_localnet"); err == nil && val != "0" {
			out = append(out, &Finding{Check: "stray-guard", Severity: Problem, Subject: "localnet guard of " + br,
				What:  "no network has bridge " + br + ", yet an interface of that name has route_localnet on",
				Means: "the guard keeps its containers from the host's 127.0.0.1 and must stay while it does: a leftover of an interrupted network rm, or another plumb's",
				Fix:   "if " + br + " is a leftover, `ip link del " + br + "`, then `plumb doctor --fix` deletes the guard"})
			continue
		}
		out = append(out, &Finding{Check: "stray-guard", Severity: Problem, Subject: "localnet guard of " + br,
			What:  "inet plumb's set localnet_bridges holds " + br + ", which no network has",
			Means: "a leftover of an interrupted network create or rm",
			Fix:   "delete it (`nft delete element inet plumb localnet_bridges { \"" + br + "\" }`)", Owned: true,
			repair: func(context.Context) error { return v.m.DeleteStrayGuard(br) }})
	}
	return out
}
