package explain

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/network"
)

// ruleOf finds the rule of n in chain whose spec starts with prefix,
// among its ip6tables rules (v6) or its iptables rules.
func ruleOf(n *network.Network, v6 bool, chain string, prefix ...string) (iptables.Rule, bool) {
	return ruleTo(n, v6, chain, "", prefix...)
}

// ruleTo is ruleOf for a rule whose target (its last token) is target;
// any target when "".
func ruleTo(n *network.Network, v6 bool, chain, target string, prefix ...string) (iptables.Rule, bool) {
	for _, r := range iptables.Rules(n.Firewall()) {
		if r.V6 == v6 && r.Chain == chain && len(r.Spec) >= len(prefix) && slices.Equal(r.Spec[:len(prefix)], prefix) &&
			(target == "" || r.Spec[len(r.Spec)-1] == target) {
			return r, true
		}
	}
	return iptables.Rule{}, false
}

// ruleStep is the step of one rule of plumb's: where the kernel holds it,
// or that it is missing (drift). It reports whether the kernel holds it.
func (x *run) ruleStep(what string, r iptables.Rule, result, detail string) bool {
	bin := "iptables"
	if r.V6 {
		bin = "ip6tables"
	}
	s := Step{What: what, Rule: r.String(), Result: result,
		Command: fmt.Sprintf("%s -t %s -S %s", bin, r.Table, r.Chain)}
	switch {
	case x.w.rules == nil:
		s.Detail = fmt.Sprintf("%s [the kernel's rules could not be read: %v]", detail, x.w.rulesErr)
	case r.V6 && x.w.rules.Facts6 == nil:
		s.Detail = fmt.Sprintf("%s [the kernel's ip6tables rules could not be read: %v]", detail, x.w.rules.Err6)
	case x.w.rules.Position(r) == 0:
		s.Detail = detail + " [MISSING in the kernel]"
		x.missed = true
		x.drift(fmt.Sprintf("rule missing: %s", r))
		x.r.add(s)
		return false
	default:
		s.Detail = fmt.Sprintf("%s [%s %s rule %d]", detail, r.Table, r.Chain, x.w.rules.Position(r))
	}
	x.r.add(s)
	return true
}

// forward follows forwarded packet p (its In and Out links, its source
// and destination as they are in FORWARD, after any DNAT) through the
// filter FORWARD chain: the rules not plumb's above plumb's jump,
// PLUMB-FORWARD, the rules not plumb's below the jump, the policy. It
// reports whether the packet passes. Equivalent to: reading `iptables -S
// FORWARD` top down.
func (x *run) forward(p iptables.Packet, dnat bool) bool {
	if x.w.nft {
		return x.nftForward(p, dnat)
	}
	f, err := x.facts()
	if f == nil {
		x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("FORWARD not read: %v", err)})
		return true
	}
	if f.Jump == 0 {
		return x.noJump(f, p)
	}
	if ok, decided := x.foreign("above plumb's jump in FORWARD", f.Ahead(p)); decided {
		return ok
	}
	if ok, decided := x.plumbForward(p.In, p.Out, dnat); decided {
		return ok
	}
	if ok, decided := x.foreign("below plumb's jump in FORWARD: PLUMB-FORWARD let the packet go on", f.Below(p)); decided {
		return ok
	}
	pol := f.Policy("FORWARD")
	x.r.add(Step{What: "firewall", Detail: "no rule decides: FORWARD goes on, to its policy " + pol + " (not plumb's)",
		Result: pol, Command: x.ipt() + " -t filter -S FORWARD"})
	if pol == "ACCEPT" {
		return true
	}
	why := "FORWARD's policy is " + pol + " and no rule of plumb's accepts this traffic"
	if x.missed {
		why = "FORWARD's policy is " + pol + " and plumb's rule that accepts this traffic is missing (plumb drift)"
	}
	x.r.decide(Blocked, why)
	return false
}

// noJump: plumb's jump FORWARD → PLUMB-FORWARD is missing, so none of
// plumb's rules is met: FORWARD's own rules and policy decide. That is
// drift, and the verdict says so.
func (x *run) noJump(f *iptables.HostFacts, p iptables.Packet) bool {
	x.drift("plumb's jump FORWARD → PLUMB-FORWARD is missing")
	x.r.add(Step{What: "firewall", Detail: "plumb's jump FORWARD → PLUMB-FORWARD is missing: none of plumb's rules is met",
		Rule: x.ipt() + " -I FORWARD -m comment --comment plumb -j " + iptables.ChainForward, Result: "missing", Command: x.ipt() + " -t filter -S FORWARD"})
	ok, decided := x.foreign("in FORWARD, plumb's jump missing", f.Below(p))
	if !decided {
		pol := f.Policy("FORWARD")
		x.r.add(Step{What: "firewall", Detail: "no rule decides: FORWARD's policy " + pol + " (not plumb's)", Result: pol, Command: x.ipt() + " -t filter -S FORWARD"})
		ok = pol == "ACCEPT"
	}
	if !ok {
		x.r.Verdict, x.r.Reason = "", ""
		x.r.decide(Blocked, "plumb's jump FORWARD → PLUMB-FORWARD is missing (plumb drift: the daemon puts it back; `plumb doctor --fix` too), so FORWARD drops what plumb's rules would decide")
	}
	return ok
}

// plumbForward is PLUMB-FORWARD's decision: isolation, icc, internal,
// the gateway mode of the packet's family, published ports, outbound.
// decided is false when no rule matches.
func (x *run) plumbForward(in, out string, dnat bool) (ok, decided bool) {
	inNet, outNet := x.w.byBridge[in], x.w.byBridge[out]
	v6 := x.v6()
	const fwd = iptables.ChainForward
	switch {
	case inNet != nil && outNet != nil && inNet != outNet:
		r, found := ruleOf(outNet, v6, iptables.ChainIsolation2, "-o", out)
		return x.iptDrop(r, found, fmt.Sprintf("networks %s and %s are isolated from each other (plumb isolates every network, as Docker does)", inNet.Name, outNet.Name))
	case outNet != nil && inNet == outNet:
		r, found := ruleOf(outNet, v6, fwd, "-i", out, "-o", out)
		if !outNet.ICC {
			return x.iptDrop(r, found, fmt.Sprintf("network %s is --icc=false", outNet.Name))
		}
		return x.iptAccept(r, fmt.Sprintf("within network %s (icc)", outNet.Name))
	case outNet != nil && outNet.Internal:
		r, found := ruleOf(outNet, v6, fwd, "!", "-i", out, "-o", out, "-m", "comment")
		return x.iptDrop(r, found, fmt.Sprintf("network %s is --internal: nothing comes in from outside it", outNet.Name))
	case outNet != nil && famOf(outNet, v6).isolated():
		r, found := ruleOf(outNet, v6, fwd, "!", "-i", out, "-o", out, "-m", "comment")
		return x.iptDrop(r, found, fmt.Sprintf("network %s's %s gateway mode is isolated: nothing of %[2]s comes in from outside it", outNet.Name, famOf(outNet, v6).name()))
	case outNet != nil && dnat:
		r, _ := ruleOf(outNet, v6, fwd, "!", "-i", out, "-o", out, "-m", "conntrack")
		return x.iptAccept(r, "a published port of network "+outNet.Name)
	case outNet != nil:
		return x.iptInbound(outNet, out)
	case inNet != nil && inNet.Internal:
		r, found := ruleOf(inNet, v6, fwd, "-i", in, "!", "-o", in)
		return x.iptDrop(r, found, fmt.Sprintf("network %s is --internal: nothing leaves it", inNet.Name))
	case inNet != nil && famOf(inNet, v6).isolated():
		r, found := ruleOf(inNet, v6, fwd, "-i", in, "!", "-o", in)
		return x.iptDrop(r, found, fmt.Sprintf("network %s's %s gateway mode is isolated: nothing of %[2]s leaves it", inNet.Name, famOf(inNet, v6).name()))
	case inNet != nil:
		r, _ := ruleOf(inNet, v6, fwd, "-i", in, "!", "-o", in)
		return x.iptAccept(r, "out of network "+inNet.Name)
	}
	return false, false
}

// iptDrop is the verdict of plumb's DROP rule r (found: n has it). A rule
// of plumb's the kernel lacks decides nothing: the packet goes on down
// FORWARD (ruleStep records the drift).
func (x *run) iptDrop(r iptables.Rule, found bool, why string) (bool, bool) {
	if found && !x.ruleStep("firewall", r, "DROP", why) {
		return false, false
	}
	x.r.decide(Blocked, fmt.Sprintf("%s: %s", r, why))
	return false, true
}

// iptAccept is the verdict of plumb's ACCEPT rule r.
func (x *run) iptAccept(r iptables.Rule, why string) (bool, bool) {
	ok := x.ruleStep("firewall", r, "ACCEPT", why)
	return ok, ok
}

// iptInbound is what the gateway mode of the packet's family lets in to
// network n (bridge out) from outside it, neither published nor a reply:
// nat-unprotected anything; routed the published ports at the container's
// address (PLUMB-ROUTED); IPv6 in mode nat nothing; IPv4 in mode nat is
// left to FORWARD, as plumb always did.
func (x *run) iptInbound(n *network.Network, out string) (bool, bool) {
	v6, f := x.v6(), famOf(n, x.v6())
	const fwd = iptables.ChainForward
	in := []string{"!", "-i", out, "-o", out, "-m", "comment"}
	switch {
	case f.mode == firewall.ModeNATUnprotected:
		r, _ := ruleTo(n, v6, fwd, "ACCEPT", in...)
		return x.iptAccept(r, inboundWhy(n, f))
	case f.mode == firewall.ModeRouted:
		if r, ok := x.routedRule(n); ok {
			jump, _ := ruleTo(n, v6, fwd, iptables.ChainRouted, in...)
			if x.ruleStep("firewall", jump, iptables.ChainRouted, fmt.Sprintf("network %s's %s gateway mode is routed: published ports at the container's own address are looked up in %s", n.Name, f.name(), iptables.ChainRouted)) {
				return x.iptAccept(r, fmt.Sprintf("a published port of network %s, reached at the container's own address (routed gateway mode)", n.Name))
			}
		}
		r, found := ruleTo(n, v6, fwd, "DROP", in...)
		return x.iptDrop(r, found, inboundWhy(n, f))
	case v6 && f.subnet.IsValid():
		r, found := ruleTo(n, v6, fwd, "DROP", in...)
		return x.iptDrop(r, found, inboundWhy(n, f))
	}
	return false, false
}

// routedRule is the PLUMB-ROUTED rule that accepts x.dst:x.port/proto,
// a published container port on network n (iptables.PortRulesOn).
func (x *run) routedRule(n *network.Network) (iptables.Rule, bool) {
	e := x.pubAt(n, x.dst, x.port)
	if e == nil {
		return iptables.Rule{}, false
	}
	d := hostPrefix(x.dst).String()
	for _, r := range iptables.PortRulesOn(n.Firewall(), e.ID, e.FirewallPorts()) {
		if r.Chain == iptables.ChainRouted && slices.Contains(r.Spec, d) && slices.Contains(r.Spec, x.proto) &&
			slices.Contains(r.Spec, strconv.Itoa(int(x.port))) {
			return r, true
		}
	}
	return iptables.Rule{}, false
}

// masquerade is the nat step of traffic leaving network n by out.
func (x *run) masquerade(n *network.Network, out string, src fmt.Stringer) {
	if x.w.nft {
		x.nftMasquerade(n, out, src)
		return
	}
	f := famOf(n, x.v6())
	r, ok := ruleOf(n, f.v6, iptables.ChainPostrouting, "-s", f.subnet.Masked().String(), "!", "-o", n.Bridge)
	if !ok {
		x.noMasquerade(n, f)
		return
	}
	x.ruleStep("nat", r, "MASQUERADE", fmt.Sprintf("leaving by %s, the source becomes %s", out, src))
}

// noMasquerade is the nat step of traffic leaving network n by a family
// f that is not masqueraded: --masquerade=false, or gateway mode routed.
func (x *run) noMasquerade(n *network.Network, f fam) {
	if f.mode == firewall.ModeRouted {
		x.r.add(Step{What: "nat", Detail: fmt.Sprintf("no masquerade: network %s's %s gateway mode is routed; the source stays the container's, so the far side needs a route to %s via this host",
			n.Name, f.name(), f.subnet.Masked())})
		return
	}
	x.r.add(Step{What: "nat", Detail: fmt.Sprintf("no masquerade: network %s is --masquerade=false; the source stays the container's", n.Name)})
}

// input follows a packet for the host itself, in by link in from address
// from, through the filter INPUT chain: the rules not plumb's that may
// decide, then its policy. It reports whether the packet passes.
// Equivalent to: reading `iptables -S INPUT` top down.
func (x *run) input(in string, from netip.Addr) bool {
	f, err := x.facts()
	if f == nil {
		x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("INPUT not read: %v", err)})
		return true
	}
	p := iptables.Packet{In: in, Src: hostPrefix(from), Dst: hostPrefix(x.dst)}
	if ok, decided := x.foreign("in INPUT", f.Walk("INPUT", 0, p)); decided {
		return ok
	}
	pol := f.Policy("INPUT")
	x.r.add(Step{What: "firewall", Detail: "no rule of INPUT decides: its policy " + pol + " (not plumb's)",
		Result: pol, Command: x.ipt() + " -t filter -S INPUT"})
	if pol != "ACCEPT" {
		x.r.decide(Blocked, "INPUT's policy is "+pol+" and no rule in INPUT accepts this traffic (not plumb's)")
		return false
	}
	return true
}

// foreign adds a step for each rule not plumb's of rules (as Ahead, Walk
// give them, where says where they stand): a rule that may match is
// reported and passed, the first that surely matches decides. ok is its
// verdict; decided is false when none surely matched.
func (x *run) foreign(where string, rules []iptables.ForeignRule) (ok, decided bool) {
	for _, fr := range rules {
		cmd := x.ipt() + " -t filter -S " + fr.Chain
		if !fr.Definite {
			x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("a rule not plumb's (%s rule %d, %s) may match: it tests more than explain follows (protocol, state, ...); explain goes on as if it did not",
				fr.Chain, fr.Position, where), Rule: x.foreignText(fr), Result: "maybe " + fr.Target, Command: cmd})
			continue
		}
		x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("a rule not plumb's (%s rule %d, %s) decides", fr.Chain, fr.Position, where),
			Rule: x.foreignText(fr), Result: fr.Target, Command: cmd})
		if fr.Target != "ACCEPT" {
			x.r.decide(Blocked, fmt.Sprintf("%s (not plumb's: %s)", x.foreignText(fr), where))
			return false, true
		}
		return true, true
	}
	return false, false
}

// hostPrefix is a as a /32, or the invalid prefix (any address).
func hostPrefix(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// packet is the packet in FORWARD from link in to link out.
func (x *run) packet(in, out string, src, dst netip.Addr) iptables.Packet {
	return iptables.Packet{In: in, Out: out, Src: hostPrefix(src), Dst: hostPrefix(dst)}
}
