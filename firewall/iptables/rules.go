package iptables

import (
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

// Rule is one iptables rule: `iptables -t Table -A Chain Spec...`. It is pure
// data. Spec is written in the order iptables-save prints it (interface and
// address matches first, then the -m matches, the comment, and -j last), so
// that a rule read back from iptables-save compares equal token by token.
type Rule struct {
	Table, Chain string
	Spec         []string
}

// String returns the rule as an iptables command line.
func (r Rule) String() string {
	return "iptables -t " + r.Table + " -A " + r.Chain + " " + joinSpec(r.Spec)
}

// NetworkComment returns the comment carried by every rule of the network
// named name: "plumb:NAME".
func NetworkComment(name string) string { return commentNetworkPrefix + name }

// Rules returns the per-network rules of n, in the order EnsureNetwork
// installs them: the filter rules of PLUMB-FORWARD, PLUMB-ISOLATION-1 and
// PLUMB-ISOLATION-2, then the nat rule of PLUMB-POSTROUTING. For bridge BR and
// subnet S, with comment "plumb:NAME" on each:
//
//	-A PLUMB-FORWARD -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//	-A PLUMB-FORWARD ! -i BR -o BR -m conntrack --ctstate DNAT -j ACCEPT   (not Internal: published ports)
//	-A PLUMB-FORWARD -i BR -o BR -j ACCEPT          (ICC false: -j DROP)
//	-A PLUMB-FORWARD -i BR ! -o BR -j ACCEPT        (not Internal)
//	-A PLUMB-FORWARD -i BR ! -o BR -j DROP          (Internal)
//	-A PLUMB-FORWARD ! -i BR -o BR -j DROP          (Internal)
//	-A PLUMB-ISOLATION-1 -i BR ! -o BR -j PLUMB-ISOLATION-2
//	-A PLUMB-ISOLATION-2 -o BR -j DROP
//	-A PLUMB-INPUT -d 127.0.0.0/8 -i BR -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP (not Internal)
//	-t nat -A PLUMB-POSTROUTING -s S ! -o BR -j MASQUERADE   (Masquerade, not Internal)
//	-t nat -A PLUMB-POSTROUTING -s 127.0.0.0/8 -o BR -j MASQUERADE            (not Internal)
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
//
// Rules is pure: it does not validate n (EnsureNetwork does).
func Rules(n firewall.Network) []Rule {
	c := []string{"-m", "comment", "--comment", NetworkComment(n.Name)}
	br := n.Bridge
	spec := func(parts ...string) []string {
		// Matches, then the comment, then the target (the last two tokens).
		k := len(parts) - 2
		out := append([]string{}, parts[:k]...)
		out = append(out, c...)
		return append(out, parts[k:]...)
	}
	fwd := func(parts ...string) Rule { return Rule{TableFilter, ChainForward, spec(parts...)} }

	icc := "ACCEPT"
	if !n.ICC {
		icc = "DROP"
	}
	rules := []Rule{
		fwd("-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
	}
	if !n.Internal {
		rules = append(rules, fwd("!", "-i", br, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"))
	}
	rules = append(rules, fwd("-i", br, "-o", br, "-j", icc))
	if n.Internal {
		rules = append(rules,
			fwd("-i", br, "!", "-o", br, "-j", "DROP"),
			fwd("!", "-i", br, "-o", br, "-j", "DROP"),
		)
	} else {
		rules = append(rules, fwd("-i", br, "!", "-o", br, "-j", "ACCEPT"))
	}
	rules = append(rules,
		Rule{TableFilter, ChainIsolation1, spec("-i", br, "!", "-o", br, "-j", ChainIsolation2)},
		Rule{TableFilter, ChainIsolation2, spec("-o", br, "-j", "DROP")},
	)
	if !n.Internal {
		rules = append(rules, Rule{TableFilter, ChainInput,
			spec("-d", loopback, "-i", br, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")})
	}
	subnet := n.Subnet.Masked().String()
	if n.Masquerade && !n.Internal {
		rules = append(rules, Rule{TableNAT, ChainPostrouting,
			spec("-s", subnet, "!", "-o", br, "-j", "MASQUERADE")})
	}
	if !n.Internal {
		rules = append(rules,
			Rule{TableNAT, ChainPostrouting, spec("-s", loopback, "-o", br, "-j", "MASQUERADE")},
			Rule{TableNAT, ChainPostrouting, spec("-s", subnet, "-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE")},
		)
	}
	return rules
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

// skeleton lists plumb's chains per table, parents before children.
var skeleton = []chainDef{
	{table: TableFilter, name: ChainForward, parent: "FORWARD"},
	{table: TableFilter, name: ChainIsolation1, parent: ChainForward},
	{table: TableFilter, name: ChainIsolation2},
	{table: TableFilter, name: ChainInput, parent: "INPUT"},
	{table: TableNAT, name: ChainPostrouting, parent: "POSTROUTING"},
	{table: TableNAT, name: ChainPrerouting, parent: "PREROUTING", match: localDst},
	{table: TableNAT, name: ChainOutput, parent: "OUTPUT", match: localDst},
}

// localDst matches packets to an address of the host (iptables-save order).
var localDst = []string{"-m", "addrtype", "--dst-type", "LOCAL"}

// loopback is 127.0.0.0/8 as iptables-save prints it.
const loopback = "127.0.0.0/8"

// tables lists the tables plumb writes, in payload order.
var tables = []string{TableFilter, TableNAT}
