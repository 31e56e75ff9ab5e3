package doctor

import (
	"fmt"
	"strings"

	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/network"
)

// checkForwardJump (iptables backend only) checks plumb's jump FORWARD -> PLUMB-FORWARD: missing
// under a policy DROP, every packet plumb forwards is dropped; below other
// rules that stop none of plumb's packets, it is a note (a rule added
// there later would apply first). A jump below a foreign rule that does
// stop them is checkForwardRules' finding, not this one: --fix does not
// move plumb's jump above a rule someone put there.
// Equivalent to: `iptables -S FORWARD`.
func checkForwardJump(v *hostView) []*Finding {
	h := v.ipt
	if h == nil || len(v.nets) == 0 || v.nftables() {
		return nil
	}
	jump := "`iptables -I FORWARD 1 -m comment --comment plumb -j " + iptables.ChainForward + "`"
	switch {
	case h.Jump == 0 && h.ForwardPolicy == "DROP":
		return []*Finding{{Check: "forward-jump", Severity: Problem, Subject: "iptables FORWARD",
			What:  "its policy is DROP and plumb's jump to " + iptables.ChainForward + " is missing",
			Means: "every packet plumb's networks forward is dropped: their containers reach nothing outside, published ports answer only the host itself, and with br_netfilter the containers of one network cannot reach each other",
			Fix:   "restore the networks' rules as network create made them (" + jump + " and the rest)", Owned: true,
			repair: restoreAny(v.m, v.nets)}}
	case h.Jump > 1 && len(forwardRules(v)) == 0:
		return []*Finding{{Check: "forward-jump", Severity: Note, Subject: "iptables FORWARD",
			What:  fmt.Sprintf("plumb's jump to %s is rule %d, not the first", iptables.ChainForward, h.Jump),
			Means: "none of the rules above it stops plumb's traffic now, but a rule added there later (in DOCKER-USER, say) applies before plumb's",
			Fix:   "move it back to the top, as network create does", Owned: true,
			repair: restoreAny(v.m, v.nets)}}
	}
	return nil
}

// checkForwardRules (iptables backend only) reports each foreign rule above plumb's jump that
// decides packets of plumb's bridges: one that drops or rejects every
// packet of a kind (only interfaces and addresses in it) is a problem; one
// that drops some (a port, a state) and names the bridge is a note; an
// ACCEPT of every packet is a problem where it lets through what plumb
// drops (internal, icc=false, isolation between networks). Not plumb's to
// change: Fix is the command that deletes or moves it.
func checkForwardRules(v *hostView) []*Finding {
	var out []*Finding
	for _, fr := range forwardRules(v) {
		f := &Finding{Check: "forward-rule", Severity: Note, Subject: fmt.Sprintf("rule %d of iptables %s", fr.rule.Position, fr.rule.Chain),
			What:  fmt.Sprintf("`%s` is reached from FORWARD before plumb's jump", fr.rule),
			Means: strings.Join(fr.effects, "; ") + " (plumb's next network create, or a repair of its rules, moves its jump back above it)",
			Fix:   "if it is not meant for plumb's networks, delete it (`" + fr.rule.DeleteCommand() + "`)"}
		if fr.rule.Chain == "FORWARD" {
			f.What = fmt.Sprintf("`%s` comes before plumb's jump in FORWARD", fr.rule)
			f.Fix += " or move it below plumb's jump (`" + fr.rule.DeleteCommand() + " && " + fr.rule.InsertCommand(v.ipt.Jump) + "`)"
		}
		if fr.definite {
			f.Severity = Problem
		}
		out = append(out, f)
	}
	return out
}

// foreignRule is one foreign rule and what it does to plumb's networks.
type foreignRule struct {
	rule     iptables.ForeignRule
	effects  []string
	definite bool // it decides every packet of some kind
}

// forwardRules lists the foreign rules above plumb's jump that decide
// packets of plumb's networks, in FORWARD's order, each with its effects.
func forwardRules(v *hostView) []*foreignRule {
	if v.ipt == nil || v.nftables() {
		return nil
	}
	var order []*foreignRule
	byRule := map[string]*foreignRule{}
	for _, n := range v.nets {
		if !n.IPv4() {
			continue // iptables' FORWARD sees none of an IPv6-only network's packets
		}
		for _, k := range packetKinds(n, len(v.nets) > 1) {
			for _, r := range v.ipt.Ahead(k.p) {
				effect, ok := k.effect(r)
				if !ok || (!r.Definite && !r.Names(n.Bridge)) {
					continue
				}
				key := fmt.Sprintf("%s/%d", r.Chain, r.Position)
				fr := byRule[key]
				if fr == nil {
					fr = &foreignRule{rule: r}
					byRule[key] = fr
					order = append(order, fr)
				}
				fr.effects = append(fr.effects, effect)
				fr.definite = fr.definite || r.Definite
			}
		}
	}
	return order
}

// packetKind is one kind of packet a network's bridge forwards, and what a
// foreign verdict on it does to the network.
type packetKind struct {
	p      iptables.Packet
	effect func(r iptables.ForeignRule) (string, bool)
}

// packetKinds are the packets of network n: between its containers, from
// them out, and to them.
func packetKinds(n *network.Network, others bool) []packetKind {
	br, s := n.Bridge, n.Subnet.Masked()
	some := func(r iptables.ForeignRule, what string) string {
		if r.Definite {
			return fmt.Sprintf("it %ss %s", strings.ToLower(r.Target), what)
		}
		return fmt.Sprintf("it %ss some of %s", strings.ToLower(r.Target), what)
	}
	return []packetKind{
		{iptables.Packet{In: br, Out: br, Src: s, Dst: s}, func(r iptables.ForeignRule) (string, bool) {
			switch {
			case r.Target != "ACCEPT" && n.ICC:
				return some(r, "the traffic between containers of network "+n.Name+" that passes iptables (routed, or bridged under br_netfilter)"), true
			case r.Target == "ACCEPT" && !n.ICC && r.Definite:
				return "it accepts what icc=false drops between containers of network " + n.Name + " (bridge port isolation still holds)", true
			}
			return "", false
		}},
		{iptables.Packet{In: br, Src: s}, func(r iptables.ForeignRule) (string, bool) {
			switch {
			case r.Target != "ACCEPT" && !n.Internal:
				return some(r, "what the containers of network "+n.Name+" send out, replies of its published ports included"), true
			case r.Target == "ACCEPT" && r.Definite && n.Internal:
				return "it lets the containers of internal network " + n.Name + " reach out", true
			case r.Target == "ACCEPT" && r.Definite && others:
				return "it lets the containers of network " + n.Name + " reach other plumb networks, which plumb isolates", true
			}
			return "", false
		}},
		{iptables.Packet{Out: br, Dst: s}, func(r iptables.ForeignRule) (string, bool) {
			switch {
			case r.Target != "ACCEPT" && !n.Internal:
				return some(r, "what comes in to network "+n.Name+": its published ports, and replies to its containers"), true
			case r.Target == "ACCEPT" && r.Definite && n.Internal:
				return "it lets anything reach the containers of internal network " + n.Name, true
			}
			return "", false
		}},
	}
}

// checkIptablesSplit reports iptables-legacy and iptables-nft both holding
// rules: each iptables sees only its own, and both apply. Not plumb's.
// Equivalent to: `iptables-legacy-save; iptables-nft-save`.
func checkIptablesSplit(v *hostView) []*Finding {
	if v.ipt == nil || len(v.nets) == 0 {
		return nil
	}
	var holding, saves []string
	for _, b := range v.ipt.Backends {
		if b.Holds() {
			holding = append(holding, fmt.Sprintf("%s (%s)", b.Save, backendSummary(b)))
			saves = append(saves, "`"+b.Save+"`")
		}
	}
	if len(holding) < 2 {
		return nil
	}
	return []*Finding{{Check: "iptables-split", Severity: Problem, Subject: "iptables backends",
		What:  "both hold rules: " + strings.Join(holding, " and "),
		Means: fmt.Sprintf("each iptables command sees only its own backend's rules, and both apply: plumb writes to %s and cannot see the other's, where a DROP (a FORWARD policy DROP) stops plumb's traffic out of plumb's sight", v.ipt.Backend),
		Fix:   "see both with " + strings.Join(saves, " and ") + "; have every program that writes rules use one backend (Debian: `update-alternatives --config iptables`), then remove what is left in the other"}}
}

// backendSummary says in a few words what b holds.
func backendSummary(b iptables.BackendRules) string {
	parts := []string{fmt.Sprintf("%d rules, %d chains", b.Rules, b.Chains)}
	if len(b.Policies) > 0 {
		parts = append(parts, "policy "+strings.Join(b.Policies, ", "))
	}
	if len(b.Unreadable) > 0 {
		parts = append(parts, "tables it cannot show: "+strings.Join(b.Unreadable, ", "))
	}
	return strings.Join(parts, ", ")
}
