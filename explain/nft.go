package explain

import (
	"fmt"
	"strings"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/firewall/nftables"
	"github.com/plumbnet/plumb/network"
)

// On the nftables backend every network shares the same rules of table
// inet plumb-networks and adds only elements to the sets they look up
// (nftables.NetworkElements), a published port one element of a DNAT map
// (nftables.PortElements). So explain decides from plumb's model, as on
// iptables, shows the rule that decides with the element that makes it
// match, and asks the backend's one reading of the table
// (Manager.FirewallSnapshot) whether the network's (or the endpoint's)
// elements are in place. The iptables FORWARD chain still applies beside
// it: a DROP there is final too, and plumb's ACCEPT rules for its bridges
// (coexistence) are part of the network's check.

// nftCheck reports whether n's elements (and owner's ports, when given)
// are in the kernel, and what is wrong when not.
func (x *run) nftCheck(n *network.Network, owner string, ports []firewall.Port) error {
	if x.w.checker == nil {
		return nil
	}
	if owner != "" {
		return x.w.checker.CheckEndpoint(n.Firewall(), owner, ports)
	}
	return x.w.checker.CheckNetwork(n.Firewall())
}

// nftStep is the step of rule r of plumb's table, matching by els (the
// elements of n or of a port that make it match). It reports whether the
// kernel holds them; a missing one is drift.
func (x *run) nftStep(what string, n *network.Network, r nftables.ChainRule, els []nftables.Element, result, detail string, owner string, ports []firewall.Port) bool {
	var texts []string
	for _, e := range els {
		texts = append(texts, e.String())
	}
	rule := r.String()
	if len(texts) > 0 {
		rule += " — " + strings.Join(texts, ", ")
	}
	s := Step{What: what, Rule: rule, Result: result, Command: r.ListCommand()}
	if len(els) > 0 {
		s.Command += "; " + els[0].ListCommand()
	}
	switch err := x.nftCheck(n, owner, ports); {
	case x.w.checker == nil:
		s.Detail = fmt.Sprintf("%s [the kernel's table could not be read: %v]", detail, x.w.checkErr)
	case err != nil:
		s.Detail = detail + " [MISSING in the kernel: " + oneLine(err) + "]"
		x.missed = true
		x.drift(fmt.Sprintf("nftables elements of network %s missing: %s", n.Name, oneLine(err)))
		x.r.add(s)
		return false
	default:
		s.Detail = fmt.Sprintf("%s [inet %s %s]", detail, nftables.NetTable, r.Chain)
	}
	x.r.add(s)
	return true
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// nftRule is the rule of chain with comment, for a step.
func nftRule(chain, comment string) nftables.ChainRule {
	r, _ := nftables.RuleFor(chain, comment)
	return r
}

// elems keeps the elements of els in set.
func elems(els []nftables.Element, set string) []nftables.Element {
	var out []nftables.Element
	for _, e := range els {
		if e.Set == set {
			out = append(out, e)
		}
	}
	return out
}

// nftForward is forward on the nftables backend: the decision of plumb's
// forward chain, then iptables' FORWARD, which applies beside it.
func (x *run) nftForward(p iptables.Packet, dnat bool) bool {
	ok, decided := x.nftPlumbForward(p.In, p.Out, dnat)
	if decided && !ok {
		return false
	}
	return x.nftForeignForward(p)
}

// nftPlumbForward is the decision of plumb's forward chain: isolation,
// icc, internal, published ports, outbound (nftables' netRules).
func (x *run) nftPlumbForward(in, out string, dnat bool) (ok, decided bool) {
	inNet, outNet := x.w.byBridge[in], x.w.byBridge[out]
	fwd := nftables.ChainFwd
	step := func(n *network.Network, comment, set, result, why string) (bool, bool) {
		els := elems(nftables.NetworkElements(n.Firewall()), set)
		present := x.nftStep("firewall", n, nftRule(fwd, comment), els, result, why, "", nil)
		if !present {
			return false, false
		}
		if result != "ACCEPT" {
			x.r.decide(Blocked, fmt.Sprintf("%s: %s", nftRule(fwd, comment).Text, why))
			return false, true
		}
		return true, true
	}
	switch {
	case inNet != nil && outNet != nil && inNet != outNet:
		return step(outNet, "plumb: isolation between plumb networks", nftables.SetBridges, "DROP",
			fmt.Sprintf("networks %s and %s are isolated from each other (plumb isolates every network, as Docker does)", inNet.Name, outNet.Name))
	case outNet != nil && inNet == outNet:
		if !outNet.ICC {
			return step(outNet, "plumb: traffic within a network, by its icc", nftables.MapICC, "DROP", fmt.Sprintf("network %s is --icc=false", outNet.Name))
		}
		return step(outNet, "plumb: traffic within a network, by its icc", nftables.MapICC, "ACCEPT", fmt.Sprintf("within network %s (icc)", outNet.Name))
	case outNet != nil && outNet.Internal:
		return step(outNet, "plumb: internal networks: nothing comes in", nftables.SetInternal, "DROP", fmt.Sprintf("network %s is --internal: nothing comes in from outside it", outNet.Name))
	case outNet != nil && dnat:
		return step(outNet, "plumb: published ports", nftables.SetBridges, "ACCEPT", "a published port of network "+outNet.Name)
	case inNet != nil && inNet.Internal:
		return step(inNet, "plumb: internal networks: nothing goes out", nftables.SetInternal, "DROP", fmt.Sprintf("network %s is --internal: nothing leaves it", inNet.Name))
	case inNet != nil:
		return step(inNet, "plumb: containers may go out", nftables.SetBridges, "ACCEPT", "out of network "+inNet.Name)
	}
	return false, false
}

// nftForeignForward follows the packet through iptables' FORWARD, which
// applies beside plumb's table: rules not plumb's decide first, then the
// policy; under a policy DROP plumb's ACCEPT rules for its bridges
// (coexistence, checked with the network) let it through.
func (x *run) nftForeignForward(p iptables.Packet) bool {
	if x.w.rules == nil {
		return true // no iptables, or none readable: nothing of iptables' applies
	}
	f := x.w.rules.Facts
	if ok, decided := x.foreign("in iptables FORWARD, beside plumb's table", f.Walk("FORWARD", 0, p)); decided {
		return ok
	}
	pol := f.Policy("FORWARD")
	if pol == "" || pol == "ACCEPT" {
		return true
	}
	n := x.w.byBridge[p.Out]
	if n == nil {
		n = x.w.byBridge[p.In]
	}
	s := Step{What: "firewall", Result: "ACCEPT", Command: "iptables -S DOCKER-USER; iptables -S FORWARD",
		Rule:   fmt.Sprintf("-i %[1]s -j ACCEPT / -o %[1]s -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT", bridgeOf(n)),
		Detail: "iptables' FORWARD policy is " + pol + ": plumb's ACCEPT rules for its bridges there (coexistence) let it through"}
	if n == nil || x.nftCheck(n, "", nil) != nil {
		s.Result, s.Detail = pol, "iptables' FORWARD policy is "+pol+" and plumb's ACCEPT rules for this bridge are missing there"
		x.r.add(s)
		x.r.decide(Blocked, "iptables' FORWARD policy is "+pol+" (a drop in any table is final) and plumb's ACCEPT rules for the bridge are missing (plumb drift)")
		return false
	}
	x.r.add(s)
	return true
}

func bridgeOf(n *network.Network) string {
	if n == nil {
		return "?"
	}
	return n.Bridge
}

// nftMasquerade is masquerade on the nftables backend.
func (x *run) nftMasquerade(n *network.Network, out string, src fmt.Stringer) {
	if !n.Masquerade {
		x.r.add(Step{What: "nat", Detail: fmt.Sprintf("no masquerade: network %s is --masquerade=false; the source stays the container's", n.Name)})
		return
	}
	els := elems(nftables.NetworkElements(n.Firewall()), nftables.SetMasquerade)
	x.nftStep("nat", n, nftRule(nftables.ChainPost, "plumb: containers going out"), els, "MASQUERADE",
		fmt.Sprintf("leaving by %s, the source becomes %s", out, src), "", nil)
}

// nftDNAT is the DNAT step of published port pub: the rule of prerouting
// (output from the host itself) and the port's element of its map.
func (x *run) nftDNAT(pub *publication, fromHost bool, detail string) bool {
	chain := nftables.ChainPre
	if fromHost {
		chain = nftables.ChainOut
	}
	els := nftables.PortElements(pub.n.Name, pub.e.ID, []firewall.Port{pub.p})
	comment := "plumb: published ports"
	if len(els) > 0 {
		switch els[0].Set {
		case nftables.MapAddrPorts:
			comment = "plumb: ports published on one address"
		case nftables.MapLoopPorts:
			comment = "plumb: ports published on a loopback address"
		}
	}
	return x.nftStep("nat", pub.n, nftRule(chain, comment), els, "DNAT", detail, pub.e.ID, pub.e.FirewallPorts())
}

// nftNATStep is a postrouting masquerade step of n (hairpin, localhost).
func (x *run) nftNATStep(n *network.Network, comment, detail string) {
	els := elems(nftables.NetworkElements(n.Firewall()), nftables.SetNAT)
	x.nftStep("nat", n, nftRule(nftables.ChainPost, comment), els, "MASQUERADE", detail, "", nil)
}
