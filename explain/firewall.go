package explain

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/network"
)

// ruleOf finds the rule of n in chain whose spec starts with prefix.
func ruleOf(n *network.Network, chain string, prefix ...string) (iptables.Rule, bool) {
	for _, r := range iptables.Rules(n.Firewall()) {
		if r.Chain == chain && len(r.Spec) >= len(prefix) && slices.Equal(r.Spec[:len(prefix)], prefix) {
			return r, true
		}
	}
	return iptables.Rule{}, false
}

// ruleStep is the step of one rule of plumb's: where the kernel holds it,
// or that it is missing (drift). It reports whether the kernel holds it.
func (x *run) ruleStep(what string, r iptables.Rule, result, detail string) bool {
	s := Step{What: what, Rule: r.String(), Result: result,
		Command: fmt.Sprintf("iptables -t %s -S %s", r.Table, r.Chain)}
	switch {
	case x.w.rules == nil:
		s.Detail = fmt.Sprintf("%s [the kernel's rules could not be read: %v]", detail, x.w.rulesErr)
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
	if x.w.rules == nil {
		x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("FORWARD not read: %v", x.w.rulesErr)})
		return true
	}
	f := x.w.rules.Facts
	if f.Jump == 0 {
		return x.noJump(p)
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
		Result: pol, Command: "iptables -t filter -S FORWARD"})
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
func (x *run) noJump(p iptables.Packet) bool {
	x.drift("plumb's jump FORWARD → PLUMB-FORWARD is missing")
	x.r.add(Step{What: "firewall", Detail: "plumb's jump FORWARD → PLUMB-FORWARD is missing: none of plumb's rules is met",
		Rule: "iptables -I FORWARD -m comment --comment plumb -j " + iptables.ChainForward, Result: "missing", Command: "iptables -t filter -S FORWARD"})
	f := x.w.rules.Facts
	ok, decided := x.foreign("in FORWARD, plumb's jump missing", f.Below(p))
	if !decided {
		pol := f.Policy("FORWARD")
		x.r.add(Step{What: "firewall", Detail: "no rule decides: FORWARD's policy " + pol + " (not plumb's)", Result: pol, Command: "iptables -t filter -S FORWARD"})
		ok = pol == "ACCEPT"
	}
	if !ok {
		x.r.Verdict, x.r.Reason = "", ""
		x.r.decide(Blocked, "plumb's jump FORWARD → PLUMB-FORWARD is missing (plumb drift: the daemon puts it back; `plumb doctor --fix` too), so FORWARD drops what plumb's rules would decide")
	}
	return ok
}

// plumbForward is PLUMB-FORWARD's decision: isolation, icc, internal,
// published ports, outbound. decided is false when no rule matches.
func (x *run) plumbForward(in, out string, dnat bool) (ok, decided bool) {
	inNet, outNet := x.w.byBridge[in], x.w.byBridge[out]
	const fwd = iptables.ChainForward
	// A rule of plumb's the kernel lacks decides nothing: the packet goes
	// on down FORWARD (ruleStep records the drift).
	drop := func(r iptables.Rule, found bool, why string) (bool, bool) {
		if found && !x.ruleStep("firewall", r, "DROP", why) {
			return false, false
		}
		x.r.decide(Blocked, fmt.Sprintf("%s: %s", r, why))
		return false, true
	}
	accept := func(r iptables.Rule, why string) (bool, bool) {
		ok := x.ruleStep("firewall", r, "ACCEPT", why)
		return ok, ok
	}
	switch {
	case inNet != nil && outNet != nil && inNet != outNet:
		r, found := ruleOf(outNet, iptables.ChainIsolation2, "-o", out)
		return drop(r, found, fmt.Sprintf("networks %s and %s are isolated from each other (plumb isolates every network, as Docker does)", inNet.Name, outNet.Name))
	case outNet != nil && inNet == outNet:
		r, found := ruleOf(outNet, fwd, "-i", out, "-o", out)
		if !outNet.ICC {
			return drop(r, found, fmt.Sprintf("network %s is --icc=false", outNet.Name))
		}
		return accept(r, fmt.Sprintf("within network %s (icc)", outNet.Name))
	case outNet != nil && outNet.Internal:
		r, found := ruleOf(outNet, fwd, "!", "-i", out, "-o", out, "-m", "comment")
		return drop(r, found, fmt.Sprintf("network %s is --internal: nothing comes in from outside it", outNet.Name))
	case outNet != nil && dnat:
		r, _ := ruleOf(outNet, fwd, "!", "-i", out, "-o", out, "-m", "conntrack")
		return accept(r, "a published port of network "+outNet.Name)
	case inNet != nil && inNet.Internal:
		r, found := ruleOf(inNet, fwd, "-i", in, "!", "-o", in)
		return drop(r, found, fmt.Sprintf("network %s is --internal: nothing leaves it", inNet.Name))
	case inNet != nil:
		r, _ := ruleOf(inNet, fwd, "-i", in, "!", "-o", in)
		return accept(r, "out of network "+inNet.Name)
	}
	return false, false
}

// masquerade is the nat step of traffic leaving network n by out.
func (x *run) masquerade(n *network.Network, out string, src fmt.Stringer) {
	if x.w.nft {
		x.nftMasquerade(n, out, src)
		return
	}
	r, ok := ruleOf(n, iptables.ChainPostrouting, "-s", n.Subnet.Masked().String(), "!", "-o", n.Bridge)
	if !ok {
		x.r.add(Step{What: "nat", Detail: fmt.Sprintf("no masquerade: network %s is --masquerade=false; the source stays the container's", n.Name)})
		return
	}
	x.ruleStep("nat", r, "MASQUERADE", fmt.Sprintf("leaving by %s, the source becomes %s", out, src))
}

// input follows a packet for the host itself, in by link in from address
// from, through the filter INPUT chain: the rules not plumb's that may
// decide, then its policy. It reports whether the packet passes.
// Equivalent to: reading `iptables -S INPUT` top down.
func (x *run) input(in string, from netip.Addr) bool {
	if x.w.rules == nil {
		x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("INPUT not read: %v", x.w.rulesErr)})
		return true
	}
	f := x.w.rules.Facts
	p := iptables.Packet{In: in, Src: hostPrefix(from), Dst: hostPrefix(x.dst)}
	if ok, decided := x.foreign("in INPUT", f.Walk("INPUT", 0, p)); decided {
		return ok
	}
	pol := f.Policy("INPUT")
	x.r.add(Step{What: "firewall", Detail: "no rule of INPUT decides: its policy " + pol + " (not plumb's)",
		Result: pol, Command: "iptables -t filter -S INPUT"})
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
		cmd := "iptables -t filter -S " + fr.Chain
		if !fr.Definite {
			x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("a rule not plumb's (%s rule %d, %s) may match: it tests more than explain follows (protocol, state, ...); explain goes on as if it did not",
				fr.Chain, fr.Position, where), Rule: fr.String(), Result: "maybe " + fr.Target, Command: cmd})
			continue
		}
		x.r.add(Step{What: "firewall", Detail: fmt.Sprintf("a rule not plumb's (%s rule %d, %s) decides", fr.Chain, fr.Position, where),
			Rule: fr.String(), Result: fr.Target, Command: cmd})
		if fr.Target != "ACCEPT" {
			x.r.decide(Blocked, fmt.Sprintf("%s (not plumb's: %s)", fr, where))
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
