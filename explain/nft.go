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

// nftPlumbForward is the decision of plumb's forward chain: icc,
// isolation, internal, the gateway mode of the packet's family, published
// ports, outbound (nftables' netRules, in their order).
func (x *run) nftPlumbForward(in, out string, dnat bool) (ok, decided bool) {
	inNet, outNet := x.w.byBridge[in], x.w.byBridge[out]
	switch {
	case inNet != nil && outNet != nil && inNet != outNet:
		return x.nftVerdict(outNet, "plumb: isolation between plumb networks", nftables.SetBridges, "DROP",
			fmt.Sprintf("networks %s and %s are isolated from each other (plumb isolates every network, as Docker does)", inNet.Name, outNet.Name))
	case outNet != nil && inNet == outNet:
		if !outNet.ICC {
			return x.nftVerdict(outNet, "plumb: traffic within a network, by its icc", nftables.MapICC, "DROP", fmt.Sprintf("network %s is --icc=false", outNet.Name))
		}
		return x.nftVerdict(outNet, "plumb: traffic within a network, by its icc", nftables.MapICC, "ACCEPT", fmt.Sprintf("within network %s (icc)", outNet.Name))
	case outNet != nil && outNet.Internal:
		return x.nftVerdict(outNet, "plumb: internal networks: nothing comes in", nftables.SetInternal, "DROP", fmt.Sprintf("network %s is --internal: nothing comes in from outside it", outNet.Name))
	case outNet != nil && x.nftIsolated(outNet):
		return x.nftVerdict(outNet, "plumb: isolated gateway mode: nothing of the family comes in", nftables.SetIsolated, "DROP", x.isolatedWhy(outNet, "comes in from outside it"))
	case outNet != nil && dnat:
		return x.nftVerdict(outNet, "plumb: published ports", nftables.SetBridges, "ACCEPT", "a published port of network "+outNet.Name)
	case outNet != nil:
		return x.nftInbound(outNet)
	case inNet != nil && inNet.Internal:
		return x.nftVerdict(inNet, "plumb: internal networks: nothing goes out", nftables.SetInternal, "DROP", fmt.Sprintf("network %s is --internal: nothing leaves it", inNet.Name))
	case inNet != nil && x.nftIsolated(inNet):
		return x.nftVerdict(inNet, "plumb: isolated gateway mode: nothing of the family goes out", nftables.SetIsolated, "DROP", x.isolatedWhy(inNet, "leaves it"))
	case inNet != nil:
		return x.nftVerdict(inNet, "plumb: containers may go out", nftables.SetBridges, "ACCEPT", "out of network "+inNet.Name)
	}
	return false, false
}

// nftVerdict is the step of the forward rule with comment, matching by
// n's elements of set (of the packet's family, for a set keyed by
// family), and its verdict. A rule whose elements the kernel lacks
// decides nothing (nftStep records the drift).
func (x *run) nftVerdict(n *network.Network, comment, set, result, why string) (bool, bool) {
	els := x.famElems(nftables.NetworkElements(n.Firewall()), set)
	if !x.nftStep("firewall", n, nftRule(nftables.ChainFwd, comment), els, result, why, "", nil) {
		return false, false
	}
	if result != "ACCEPT" {
		x.r.decide(Blocked, fmt.Sprintf("%s: %s", nftRule(nftables.ChainFwd, comment).Text, why))
		return false, true
	}
	return true, true
}

// famElems keeps the elements of els in set; of a set keyed "BR" .
// FAMILY, those of the packet's family.
func (x *run) famElems(els []nftables.Element, set string) []nftables.Element {
	out := elems(els, set)
	switch set {
	case nftables.SetIsolated, nftables.SetProtected, nftables.SetRouted:
	default:
		return out
	}
	suffix := " . ipv4"
	if x.v6() {
		suffix = " . ipv6"
	}
	var keep []nftables.Element
	for _, e := range out {
		if strings.HasSuffix(e.Key, suffix) {
			keep = append(keep, e)
		}
	}
	return keep
}

// nftIsolated: network n (not internal) has "BR" . FAMILY of the packet
// in isolated_families: its gateway mode of that family is isolated, or
// it has no subnet of it.
func (x *run) nftIsolated(n *network.Network) bool {
	f := famOf(n, x.v6())
	return f.isolated() || !f.subnet.IsValid()
}

// isolatedWhy says why nothing of the packet's family passes n's bridge.
func (x *run) isolatedWhy(n *network.Network, what string) string {
	f := famOf(n, x.v6())
	if !f.subnet.IsValid() {
		return fmt.Sprintf("network %s has no %s subnet: nothing of %[2]s %s", n.Name, f.name(), what)
	}
	return fmt.Sprintf("network %s's %s gateway mode is isolated: nothing of %[2]s %s", n.Name, f.name(), what)
}

// nftInbound is what the gateway mode of the packet's family lets in to
// network n from outside it, neither published nor a reply: routed the
// published ports at the container's address (@published, @published6),
// then protected_families drops the rest (routed, and IPv6 in mode nat);
// nat-unprotected anything; IPv4 in mode nat is left to iptables'
// FORWARD, as plumb always did.
func (x *run) nftInbound(n *network.Network) (bool, bool) {
	f := famOf(n, x.v6())
	if f.mode == firewall.ModeRouted {
		if ok, decided := x.nftRoutedPort(n, f); decided {
			return ok, decided
		}
	}
	switch {
	case f.mode == firewall.ModeRouted || (f.v6 && f.modeName() == firewall.ModeNAT):
		return x.nftVerdict(n, "plumb: gateway mode: from outside only published ports come in", nftables.SetProtected, "DROP", inboundWhy(n, f))
	case f.mode == firewall.ModeNATUnprotected:
		x.r.add(Step{What: "firewall", Detail: inboundWhy(n, f) + ": no element of it in @" + nftables.SetProtected + ", so plumb's forward chain lets it pass",
			Result: "ACCEPT", Command: nftables.Element{Set: nftables.SetProtected}.ListCommand()})
		return true, true
	}
	return false, false
}

// nftRoutedPort: x.dst:x.port is a published container port of network
// n in gateway mode routed: its element of @published (@published6).
func (x *run) nftRoutedPort(n *network.Network, f fam) (bool, bool) {
	e := x.pubAt(n, x.dst, x.port)
	if e == nil {
		return false, false
	}
	set, comment := nftables.SetPublished, "plumb: routed gateway mode: published ports reached directly"
	if f.v6 {
		set, comment = nftables.SetPublished6, comment+" (IPv6)"
	}
	key := fmt.Sprintf("%s . %s . %d", x.dst, x.proto, x.port)
	var els []nftables.Element
	for _, el := range nftables.PortElements(n.Name, e.ID, e.FirewallPorts()) {
		if el.Set == set && el.Key == key {
			els = append(els, el)
		}
	}
	if len(els) == 0 {
		return false, false // bound to a loopback address only: no element
	}
	routed := x.famElems(nftables.NetworkElements(n.Firewall()), nftables.SetRouted)
	ok := x.nftStep("firewall", n, nftRule(nftables.ChainFwd, comment), append(routed, els...), "ACCEPT",
		fmt.Sprintf("a published port of network %s, reached at the container's own address (routed gateway mode)", n.Name), e.ID, e.FirewallPorts())
	return ok, ok
}

// nftForeignForward follows the packet through iptables' FORWARD, which
// applies beside plumb's table: rules not plumb's decide first, then the
// policy; under a policy DROP plumb's ACCEPT rules for its bridges
// (coexistence, checked with the network) let it through.
func (x *run) nftForeignForward(p iptables.Packet) bool {
	f, _ := x.facts()
	if f == nil {
		return true // no iptables, or none readable: nothing of iptables' applies
	}
	if ok, decided := x.foreign("in "+x.ipt()+" FORWARD, beside plumb's table", f.Walk("FORWARD", 0, p)); decided {
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
	ipt := x.ipt()
	s := Step{What: "firewall", Result: "ACCEPT", Command: ipt + " -S DOCKER-USER; " + ipt + " -S FORWARD",
		Rule:   fmt.Sprintf("-i %[1]s -j ACCEPT / -o %[1]s -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT", bridgeOf(n)),
		Detail: ipt + "' FORWARD policy is " + pol + ": plumb's ACCEPT rules for its bridges there (coexistence) let it through"}
	if n == nil || x.nftCheck(n, "", nil) != nil {
		s.Result, s.Detail = pol, ipt+"' FORWARD policy is "+pol+" and plumb's ACCEPT rules for this bridge are missing there"
		x.r.add(s)
		x.r.decide(Blocked, ipt+"' FORWARD policy is "+pol+" (a drop in any table is final) and plumb's ACCEPT rules for the bridge are missing (plumb drift)")
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

// nftMasquerade is masquerade on the nftables backend: the IPv4 rule and
// masquerade_bridges, or for IPv6 (NAT66) masquerade6_bridges.
func (x *run) nftMasquerade(n *network.Network, out string, src fmt.Stringer) {
	f := famOf(n, x.v6())
	fw := n.Firewall()
	set, comment, masq := nftables.SetMasquerade, "plumb: containers going out", fw.Masq4()
	if f.v6 {
		set, comment, masq = nftables.SetMasq6, "plumb: containers going out (IPv6, NAT66)", fw.Masq6()
	}
	if !masq {
		x.noMasquerade(n, f)
		return
	}
	x.nftStep("nat", n, nftRule(nftables.ChainPost, comment), elems(nftables.NetworkElements(fw), set), "MASQUERADE",
		fmt.Sprintf("leaving by %s, the source becomes %s", out, src), "", nil)
}

// nftDNAT is the DNAT step of published port pub: the rule of prerouting
// (output from the host itself) and the port's element of its map.
func (x *run) nftDNAT(pub *publication, fromHost bool, detail string) bool {
	rule, _ := nftables.DNATRule(fromHost, pub.p)
	els := nftables.PortElements(pub.n.Name, pub.e.ID, []firewall.Port{pub.p})
	if len(els) > 1 {
		els = els[:1] // its DNAT map's; the rest is @published
	}
	return x.nftStep("nat", pub.n, rule, els, "DNAT", detail, pub.e.ID, pub.e.FirewallPorts())
}

// nftNATStep is a postrouting masquerade step of n (hairpin, localhost):
// the rule with comment, matching by n's elements of set.
func (x *run) nftNATStep(n *network.Network, comment, set, detail string) {
	els := elems(nftables.NetworkElements(n.Firewall()), set)
	x.nftStep("nat", n, nftRule(nftables.ChainPost, comment), els, "MASQUERADE", detail, "", nil)
}
