package iptables

import (
	"net/netip"
	"strings"

	"github.com/plumbnet/plumb/firewall"
)

// Tables plumb writes to.
const (
	TableFilter = "filter"
	TableNAT    = "nat"
)

// Chains plumb owns. Nothing else in the tables is ever modified, apart from
// the one jump into each chain reached from a built-in chain.
const (
	ChainForward     = "PLUMB-FORWARD"     // filter; jumped to from FORWARD, at position 1
	ChainIsolation1  = "PLUMB-ISOLATION-1" // filter; first rule of PLUMB-FORWARD
	ChainIsolation2  = "PLUMB-ISOLATION-2" // filter; reached from PLUMB-ISOLATION-1 rules
	ChainPostrouting = "PLUMB-POSTROUTING" // nat; jumped to from POSTROUTING, at position 1
	ChainInput       = "PLUMB-INPUT"       // filter; jumped to from INPUT, at position 1
	ChainPrerouting  = "PLUMB-PREROUTING"  // nat; jumped to from PREROUTING for local destinations
	ChainOutput      = "PLUMB-OUTPUT"      // nat; jumped to from OUTPUT for local destinations
	ChainRouted      = "PLUMB-ROUTED"      // filter; the published ports of routed networks, jumped to from their rules
)

// chainPrefix names every chain plumb owns.
const chainPrefix = "PLUMB-"

// Comments. Every rule plumb writes carries one of them.
const (
	// commentPlumb marks plumb's structural jumps.
	commentPlumb = "plumb"
	// commentCreatedTable marks the jump from a built-in chain when the table
	// did not exist before plumb wrote to it: the mark lets the last
	// DeleteNetwork, possibly in another process, remove the table again
	// (iptables-nft only). It contains a space, so no network comment can
	// ever be equal to it.
	commentCreatedTable = "plumb created-table"
	// commentNetworkPrefix starts the comment of every per-network rule.
	commentNetworkPrefix = "plumb:"
)

// Rule is one iptables rule: `iptables -t Table -A Chain Spec...`, or
// `ip6tables ...` when V6. It is pure data. Spec is written in the order
// iptables-save prints it (interface and address matches first, then the
// -m matches, the comment, and -j last), so that a rule read back from
// iptables-save (ip6tables-save) compares equal token by token.
type Rule struct {
	Table, Chain string
	Spec         []string
	V6           bool // an ip6tables rule
}

// String returns the rule as an iptables (ip6tables) command line.
func (r Rule) String() string {
	return binary(r.V6) + " -t " + r.Table + " -A " + r.Chain + " " + joinSpec(r.Spec)
}

// binary is the command of a family: "iptables" or "ip6tables".
func binary(v6 bool) string {
	if v6 {
		return "ip6tables"
	}
	return "iptables"
}

// NetworkComment returns the comment carried by every rule of the network
// named name: "plumb:NAME".
func NetworkComment(name string) string { return commentNetworkPrefix + name }

// family is one address family of a network: what its rules are made of.
type family struct {
	v6      bool
	subnet  netip.Prefix
	mode    string // gateway mode; "" is firewall.ModeNAT
	masq    bool   // Masq4() or Masq6()
	blocked bool   // Internal, or ModeIsolated: nothing in or out
}

// families returns n's families, IPv4 first: those whose subnet is valid.
func families(n firewall.Network) []family {
	var out []family
	if n.Subnet.IsValid() {
		out = append(out, family{subnet: n.Subnet, mode: n.Mode4, masq: n.Masq4(),
			blocked: n.Internal || n.Mode4 == firewall.ModeIsolated})
	}
	if n.Subnet6.IsValid() {
		out = append(out, family{v6: true, subnet: n.Subnet6, mode: n.Mode6, masq: n.Masq6(),
			blocked: n.Internal || n.Mode6 == firewall.ModeIsolated})
	}
	return out
}

// Rules returns the per-network rules of n, in the order EnsureNetwork
// installs them: the iptables rules when n has an IPv4 Subnet, then the
// ip6tables rules when it has an IPv6 Subnet6 (V6 set), each family's
// being the filter rules of PLUMB-FORWARD, PLUMB-ISOLATION-1,
// PLUMB-ISOLATION-2 and PLUMB-INPUT, then the nat rules of
// PLUMB-POSTROUTING. For bridge BR and the family's subnet S, in gateway
// mode nat (the default), with comment "plumb:NAME" on each:
//
//	-A PLUMB-FORWARD -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//	-A PLUMB-FORWARD ! -i BR -o BR -m conntrack --ctstate DNAT -j ACCEPT   (not Internal: published ports)
//	-A PLUMB-FORWARD -i BR -o BR -j ACCEPT          (ICC false: -j DROP)
//	-A PLUMB-FORWARD -i BR ! -o BR -j ACCEPT        (not Internal)
//	-A PLUMB-FORWARD ! -i BR -o BR -j DROP          (IPv6 only: nothing but published ports gets in)
//	-A PLUMB-FORWARD -i BR ! -o BR -j DROP          (Internal)
//	-A PLUMB-FORWARD ! -i BR -o BR -j DROP          (Internal)
//	-A PLUMB-ISOLATION-1 -i BR ! -o BR -j PLUMB-ISOLATION-2
//	-A PLUMB-ISOLATION-2 -o BR -j DROP
//	-A PLUMB-INPUT -d 127.0.0.0/8 -i BR -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP (IPv4, not Internal)
//	-t nat -A PLUMB-POSTROUTING -s S ! -o BR -j MASQUERADE   (Masq4 / Masq6)
//	-t nat -A PLUMB-POSTROUTING -s 127.0.0.0/8 -o BR -j MASQUERADE            (IPv4, not Internal)
//	-t nat -A PLUMB-POSTROUTING -s S -o BR -m conntrack --ctstate DNAT -j MASQUERADE (not Internal)
//
// The last three serve published ports (PortRules), installed with the
// network so that an attach without ports needs no iptables call:
// localhost reaches a published port through the bridge, which needs
// route_localnet on it, and the INPUT rule is kube-proxy's guard that keeps
// route_localnet from exposing the host's loopback services to containers
// (firewall/nftables holds the same guard where an iptables flush cannot
// remove it);
// the two MASQUERADEs give a connection from localhost, or a hairpin
// connection from the network itself, a source the container can answer.
// IPv6 has no route_localnet: a port published on [::1] is served by the
// daemon's proxy, so the ip6tables rules have neither the INPUT guard nor
// the loopback MASQUERADE.
//
// The other gateway modes of a family (Mode4, Mode6) change its rules so:
//
//   - nat-unprotected: `! -i BR -o BR -j ACCEPT` last in PLUMB-FORWARD
//     (anything routed to a container gets in);
//   - routed: no masquerade; last in PLUMB-FORWARD
//     `! -i BR -o BR -p icmp -j ACCEPT` (ip6tables: -p ipv6-icmp),
//     `! -i BR -o BR -j PLUMB-ROUTED` (the published ports reached at the
//     container's own address, see PortRulesOn) and `! -i BR -o BR -j DROP`;
//   - isolated: as Internal, for that family only.
//
// Rules is pure: it does not validate n (EnsureNetwork does).
func Rules(n firewall.Network) []Rule {
	var rules []Rule
	for _, fm := range families(n) {
		rules = append(rules, familyRules(n, fm)...)
	}
	return rules
}

// ruleSpec puts comment c before the target, the last two tokens of parts
// (matches, then the comment, then the target).
func ruleSpec(c string, parts ...string) []string {
	k := len(parts) - 2
	out := append([]string{}, parts[:k]...)
	out = append(out, "-m", "comment", "--comment", c)
	return append(out, parts[k:]...)
}

// familyRules is Rules for one family of n.
func familyRules(n firewall.Network, fm family) []Rule {
	c, br := NetworkComment(n.Name), n.Bridge
	mk := func(table, chain string, parts ...string) Rule {
		return Rule{Table: table, Chain: chain, Spec: ruleSpec(c, parts...), V6: fm.v6}
	}
	fwd := func(parts ...string) Rule { return mk(TableFilter, ChainForward, parts...) }
	icc := "ACCEPT"
	if !n.ICC {
		icc = "DROP"
	}
	rules := []Rule{fwd("-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")}
	if !fm.blocked {
		rules = append(rules, fwd("!", "-i", br, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"))
	}
	rules = append(rules, fwd("-i", br, "-o", br, "-j", icc))
	if fm.blocked {
		rules = append(rules, fwd("-i", br, "!", "-o", br, "-j", "DROP"), fwd("!", "-i", br, "-o", br, "-j", "DROP"))
	} else {
		rules = append(rules, fwd("-i", br, "!", "-o", br, "-j", "ACCEPT"))
		rules = append(rules, inboundRules(fwd, br, fm)...)
	}
	rules = append(rules,
		mk(TableFilter, ChainIsolation1, "-i", br, "!", "-o", br, "-j", ChainIsolation2),
		mk(TableFilter, ChainIsolation2, "-o", br, "-j", "DROP"),
	)
	if !n.Internal && !fm.v6 {
		rules = append(rules, mk(TableFilter, ChainInput,
			"-d", loopback, "-i", br, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"))
	}
	subnet := fm.subnet.Masked().String()
	if fm.masq {
		rules = append(rules, mk(TableNAT, ChainPostrouting, "-s", subnet, "!", "-o", br, "-j", "MASQUERADE"))
	}
	if !fm.blocked {
		if !fm.v6 {
			rules = append(rules, mk(TableNAT, ChainPostrouting, "-s", loopback, "-o", br, "-j", "MASQUERADE"))
		}
		rules = append(rules, mk(TableNAT, ChainPostrouting, "-s", subnet, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"))
	}
	return rules
}

// inboundRules are the last rules of PLUMB-FORWARD for a family that is
// not blocked: what its gateway mode lets in from outside the bridge
// besides replies and DNAT (see Rules).
func inboundRules(fwd func(...string) Rule, br string, fm family) []Rule {
	switch fm.mode {
	case firewall.ModeNATUnprotected:
		return []Rule{fwd("!", "-i", br, "-o", br, "-j", "ACCEPT")}
	case firewall.ModeRouted:
		icmp := "icmp"
		if fm.v6 {
			icmp = "ipv6-icmp"
		}
		return []Rule{
			fwd("!", "-i", br, "-o", br, "-p", icmp, "-j", "ACCEPT"),
			fwd("!", "-i", br, "-o", br, "-j", ChainRouted),
			fwd("!", "-i", br, "-o", br, "-j", "DROP"),
		}
	}
	if fm.v6 { // nat: IPv4 keeps what it always did (the host's FORWARD decides)
		return []Rule{fwd("!", "-i", br, "-o", br, "-j", "DROP")}
	}
	return nil
}

// rulesOfFamily returns the rules of rs that are ip6tables rules (v6) or
// iptables rules.
func rulesOfFamily(rs []Rule, v6 bool) []Rule {
	var out []Rule
	for _, r := range rs {
		if r.V6 == v6 {
			out = append(out, r)
		}
	}
	return out
}

// chainDef is one chain plumb owns and the single jump that reaches it.
type chainDef struct {
	table, name string
	// parent is the chain holding the jump, "" when the chain is reached
	// only from per-network rules. The jump is always the first rule of
	// parent: EnsureNetwork inserts it at position 1 and moves it back there
	// if something was inserted above it.
	parent string
	// match is put before the jump's comment and target: the DNAT chains
	// are entered only for packets to one of the host's own addresses.
	match []string
	// lazy: the chain is created only when a rule to install is in it or
	// jumps to it (PLUMB-ROUTED, for the routed gateway mode), so that
	// hosts without such a network see no new chain.
	lazy bool
}

// jumpSpec returns the spec of the jump into d with the given comment.
func (d chainDef) jumpSpec(comment string) []string {
	s := append([]string{}, d.match...)
	return append(s, "-m", "comment", "--comment", comment, "-j", d.name)
}

// fromBuiltin reports whether d is reached from a built-in chain.
func (d chainDef) fromBuiltin() bool {
	return d.parent != "" && !strings.HasPrefix(d.parent, chainPrefix)
}

// skeleton lists plumb's iptables chains per table, parents before
// children; skeleton6 its ip6tables chains (no PLUMB-INPUT: IPv6 has no
// route_localnet to guard, and nothing of plumb's is in INPUT or OUTPUT of
// the filter table, so neighbour discovery on the bridges is untouched).
// A lazy chain exists only while a rule needs it.
var (
	skeleton = []chainDef{
		{table: TableFilter, name: ChainForward, parent: "FORWARD"},
		{table: TableFilter, name: ChainIsolation1, parent: ChainForward},
		{table: TableFilter, name: ChainIsolation2},
		{table: TableFilter, name: ChainInput, parent: "INPUT"},
		{table: TableFilter, name: ChainRouted, lazy: true},
		{table: TableNAT, name: ChainPostrouting, parent: "POSTROUTING"},
		{table: TableNAT, name: ChainPrerouting, parent: "PREROUTING", match: localDst},
		{table: TableNAT, name: ChainOutput, parent: "OUTPUT", match: localDst},
	}
	skeleton6 = []chainDef{
		{table: TableFilter, name: ChainForward, parent: "FORWARD"},
		{table: TableFilter, name: ChainIsolation1, parent: ChainForward},
		{table: TableFilter, name: ChainIsolation2},
		{table: TableFilter, name: ChainRouted, lazy: true},
		{table: TableNAT, name: ChainPostrouting, parent: "POSTROUTING"},
		{table: TableNAT, name: ChainPrerouting, parent: "PREROUTING", match: localDst},
		// Not for ::1: a connection to [::1]:PORT cannot leave through a
		// bridge, so it is the daemon's proxy's (Docker's jump is the same).
		{table: TableNAT, name: ChainOutput, parent: "OUTPUT", match: localDst6},
	}
)

// skeletonOf is skeleton6 for ip6tables (v6), skeleton for iptables.
func skeletonOf(v6 bool) []chainDef {
	if v6 {
		return skeleton6
	}
	return skeleton
}

// localDst matches packets to an address of the host (iptables-save order).
var localDst = []string{"-m", "addrtype", "--dst-type", "LOCAL"}

// localDst6 matches packets to an address of the host but ::1
// (ip6tables-save order).
var localDst6 = []string{"!", "-d", "::1/128", "-m", "addrtype", "--dst-type", "LOCAL"}

// loopback is 127.0.0.0/8 as iptables-save prints it.
const loopback = "127.0.0.0/8"

// tables lists the tables plumb writes, in payload order.
var tables = []string{TableFilter, TableNAT}
