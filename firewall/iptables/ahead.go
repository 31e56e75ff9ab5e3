package iptables

import (
	"net/netip"
	"strconv"
	"strings"
)

// Packet describes the forwarded packets a question is about. An empty In
// or Out stands for an interface no rule names: it matches a rule's
// `! -i X` and `-i +`, never `-i X`. An invalid Src or Dst is any address.
type Packet struct {
	In, Out  string
	Src, Dst netip.Prefix
}

// ForeignRule is a rule of the filter table that is not plumb's, as
// iptables-save prints it.
type ForeignRule struct {
	Chain    string   // the chain holding it
	Position int      // its position in Chain, from 1
	Spec     []string // its matches and target
	Target   string   // its verdict: ACCEPT, DROP or REJECT
	// Definite: it matches every packet asked about (its only matches are
	// interfaces and addresses, and they all hold); otherwise it may.
	Definite bool
}

// String returns the rule as the command that appends it:
// `iptables -A CHAIN SPEC`.
func (r ForeignRule) String() string { return "iptables -A " + r.Chain + " " + joinSpec(r.Spec) }

// DeleteCommand returns the command that deletes the rule:
// `iptables -D CHAIN SPEC`.
func (r ForeignRule) DeleteCommand() string {
	return "iptables -D " + r.Chain + " " + joinSpec(r.Spec)
}

// InsertCommand returns the command that inserts the rule at position pos
// of its chain: `iptables -I CHAIN POS SPEC`.
func (r ForeignRule) InsertCommand(pos int) string {
	return "iptables -I " + r.Chain + " " + strconv.Itoa(pos) + " " + joinSpec(r.Spec)
}

// maxDepth bounds how deep Ahead follows jumps into user chains (the
// kernel's own bound is far larger; rulesets nest a few levels).
const maxDepth = 16

// Ahead returns the foreign rules that may decide the fate of packets p
// before they reach plumb's jump in FORWARD: the ACCEPT, DROP and REJECT
// rules of FORWARD above the jump and of the user chains those rules jump
// to (followed as the kernel does, RETURN included), in the order a packet
// meets them, up to the first that surely matches p. Rules of plumb's
// (its chains, its comments) are skipped. Nil when the jump is missing.
// A goto (-g) is followed as a jump. It reads only the facts Inspect read.
func (h *HostFacts) Ahead(p Packet) []ForeignRule {
	if h.Jump == 0 {
		return nil
	}
	w := walker{t: h.filter, p: p, onStack: map[string]bool{}}
	w.walk("FORWARD", 0, h.Jump-1)
	return w.out
}

// Below returns the foreign rules of FORWARD below plumb's jump that may
// decide packets p plumb's chain let through (RETURN, or no rule of it
// matched), as Ahead does: in order, up to the first that surely matches.
// All of FORWARD when the jump is missing.
func (h *HostFacts) Below(p Packet) []ForeignRule {
	return h.Walk("FORWARD", h.Jump, p)
}

// Walk returns the foreign rules of the filter table's chain, after its
// first skip rules, that may decide packets p, as Ahead does. A packet
// that none surely matches meets the chain's policy (Policy).
// Equivalent to: reading `iptables -S CHAIN` top down.
func (h *HostFacts) Walk(chain string, skip int, p Packet) []ForeignRule {
	w := walker{t: h.filter, p: p, onStack: map[string]bool{}}
	w.walk(chain, skip, -1)
	return w.out
}

// Policy is the policy of the filter table's built-in chain: "ACCEPT" or
// "DROP"; "ACCEPT" when the chain or the table does not exist.
// Equivalent to: `iptables -S CHAIN | head -1`.
func (h *HostFacts) Policy(chain string) string {
	if c := h.filter.chain(chain); c != nil && c.policy != "" && c.policy != "-" {
		return c.policy
	}
	return "ACCEPT"
}

type walker struct {
	t       *table
	p       Packet
	onStack map[string]bool
	out     []ForeignRule
}

// walk follows the rules of chain name after the first skip, up to the
// nth (all when n < 0), and reports whether a rule surely ended the
// packet's way there.
func (w *walker) walk(name string, skip, n int) (stopped bool) {
	c := w.t.chain(name)
	if c == nil || w.onStack[name] || len(w.onStack) >= maxDepth {
		return false
	}
	w.onStack[name] = true
	defer delete(w.onStack, name)
	rules := c.rules
	if n >= 0 && n < len(rules) {
		rules = rules[:n]
	}
	if skip > len(rules) {
		skip = len(rules)
	}
	for i, r := range rules[skip:] {
		i += skip
		m := matches(r, w.p)
		target := ruleTarget(r)
		if m == noMatch || strings.HasPrefix(target, chainPrefix) || strings.HasPrefix(specValue(r, "--comment"), commentPlumb) {
			continue
		}
		switch {
		case target == "ACCEPT" || target == "DROP" || target == "REJECT":
			w.out = append(w.out, ForeignRule{Chain: name, Position: i + 1, Spec: r, Target: target, Definite: m == always})
			if m == always {
				return true
			}
		case target == "RETURN":
			if m == always {
				return false
			}
		case w.t.chain(target) != nil && !w.t.chain(target).builtin():
			if w.walk(target, 0, -1) && m == always {
				return true
			}
		}
	}
	return false
}

// ruleTarget is the rule's -j or -g value.
func ruleTarget(r []string) string {
	if t := specValue(r, "-j"); t != "" {
		return t
	}
	return specValue(r, "-g")
}

// match is how a rule matches the packets of a Packet.
type match int

const (
	always  match = iota // every one of them
	maybe                // some, or it cannot tell
	noMatch              // none
)

// matches tells how rule r (iptables-save tokens) matches p: by its
// interfaces and addresses; any other match (-p, -m conntrack, ...) makes
// it maybe. Target options after -j are not matches.
func matches(r []string, p Packet) match {
	res, neg := always, false
	for i := 0; i < len(r); i++ {
		tok := r[i]
		var m match
		switch {
		case tok == "!":
			neg = true
			continue
		case tok == "-j" || tok == "-g":
			return res
		case tok == "-m" && i+1 < len(r) && r[i+1] == "comment":
			i += 3 // -m comment --comment TEXT
			continue
		case (tok == "-i" || tok == "-o") && i+1 < len(r):
			iface := map[string]string{"-i": p.In, "-o": p.Out}[tok]
			m = ifaceMatch(r[i+1], iface, neg)
			i++
		case (tok == "-s" || tok == "-d") && i+1 < len(r):
			addr := map[string]netip.Prefix{"-s": p.Src, "-d": p.Dst}[tok]
			m = addrMatch(r[i+1], addr, neg)
			i++
		default:
			m = maybe // a match this walk does not model, or its option
		}
		neg = false
		if m > res {
			res = m
		}
	}
	return res
}

// ifaceMatch matches iptables' -i/-o pattern (a trailing + is a prefix
// wildcard) against iface, "" being an interface no rule names.
func ifaceMatch(pattern, iface string, neg bool) match {
	var ok bool
	switch {
	case pattern == "+":
		ok = true
	case iface == "":
		ok = false
	case strings.HasSuffix(pattern, "+"):
		ok = strings.HasPrefix(iface, strings.TrimSuffix(pattern, "+"))
	default:
		ok = pattern == iface
	}
	if ok != neg {
		return always
	}
	return noMatch
}

// addrMatch matches iptables' -s/-d value (an address or prefix) against
// the addresses p may have (invalid: any).
func addrMatch(value string, p netip.Prefix, neg bool) match {
	a, err := netip.ParsePrefix(value)
	if err != nil {
		addr, err2 := netip.ParseAddr(value)
		if err2 != nil {
			return maybe
		}
		a = netip.PrefixFrom(addr, addr.BitLen())
	}
	switch {
	case a.Bits() == 0:
		if neg {
			return noMatch
		}
		return always
	case !p.IsValid():
		return maybe
	case a.Bits() <= p.Bits() && a.Contains(p.Addr()):
		if neg {
			return noMatch
		}
		return always
	case a.Overlaps(p):
		return maybe
	case neg:
		return always
	}
	return noMatch
}

// Names reports whether the rule is about interface iface: one of its -i
// or -o matches names it, or a + wildcard covers it. `! -i X` and `-i +`
// name nothing. A rule that names a bridge is meant for it; one that
// matches it only by matching everything may not be.
func (r ForeignRule) Names(iface string) bool {
	neg := false
	for i := 0; i+1 < len(r.Spec); i++ {
		switch tok := r.Spec[i]; {
		case tok == "-j" || tok == "-g":
			return false
		case tok == "!":
			neg = true
			continue
		case (tok == "-i" || tok == "-o") && !neg && r.Spec[i+1] != "+":
			if ifaceMatch(r.Spec[i+1], iface, false) == always {
				return true
			}
		}
		neg = false
	}
	return false
}
