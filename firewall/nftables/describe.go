package nftables

import (
	"fmt"
	"strings"

	"github.com/plumbnet/plumb/firewall"
)

// Element is one element of a set or map of NetTable as nft shows it, for
// a person (`plumb explain`, `plumb inspect`): the elements a network or a
// published port puts in the table, from the same definitions the backend
// writes.
type Element struct {
	Set  string // the set or map: SetBridges, MapICC, MapPorts, ...
	Text string // as `nft list set` shows it: "tcp . 8080 comment \"plumb:web/ID\" : 10.0.0.2 . 80"
	// Key is Text without its value and comment: what a lookup matches.
	Key string
}

// String is the element with its set: `@ports { tcp . 8080 : ... }`.
func (e Element) String() string { return fmt.Sprintf("@%s { %s }", e.Set, e.Text) }

// AddCommand is the nft command that adds the element.
// Equivalent to: `nft add element inet plumb-networks SET { TEXT }`.
func (e Element) AddCommand() string {
	return fmt.Sprintf("nft add element inet %s %s { %s }", NetTable, e.Set, e.Text)
}

// ListCommand is the nft command that lists the set holding the element.
func (e Element) ListCommand() string { return fmt.Sprintf("nft list set inet %s %s", NetTable, e.Set) }

// NetworkElements are the elements network n puts in NetTable's sets: its
// bridge in "bridges", its icc verdict, and "internal_bridges", or per
// family what its gateway mode calls for: "masquerade_bridges" /
// "masquerade6_bridges", "nat_bridges", "nat_subnets" / "nat_subnets6",
// "BR" . FAMILY in "isolated_families", "protected_families",
// "routed_families".
func NetworkElements(n firewall.Network) []Element { return describe(netElems(n)) }

// PortElements are the elements owner's ports published on the network
// named network put in the port maps: one per port in its DNAT map
// (ports, addr_ports, loopback_ports; ports6, addr_ports6), then the
// container side of each in published / published6. An IPv6 port on
// [::1] has none: IPv6 has no route_localnet, the daemon's proxy serves
// it.
func PortElements(network, owner string, ports []firewall.Port) []Element {
	return describe(portElems(network, owner, ports))
}

// DNATRule is the rule of chain prerouting (output when fromHost) that
// DNATs traffic to published port p, the one that looks up p's map; false
// for a port no rule there DNATs (a loopback port from outside the host,
// an IPv6 port on [::1]).
func DNATRule(fromHost bool, p firewall.Port) (ChainRule, bool) {
	chain := ChainPre
	if fromHost {
		chain = ChainOut
	}
	if p.Is6() && p.HostIP.IsLoopback() {
		return ChainRule{}, false
	}
	m := "@" + portMap(p)
	for _, r := range ChainRules(chain) {
		if strings.HasSuffix(r.Text, " "+m) {
			return r, true
		}
	}
	return ChainRule{}, false
}

// describe renders es as `nft list` shows them: the key, its comment,
// then the value of a map element (`tcp . 8080 comment "plumb:web/ID" :
// 10.0.0.2 . 80`).
func describe(es []elem) []Element {
	out := make([]Element, 0, len(es))
	for _, e := range es {
		key, val, isMap := strings.Cut(elem{set: e.set, key: e.key, val: e.val}.text(), " : ")
		text := key
		if e.comment != "" {
			text += fmt.Sprintf(" comment %q", e.comment)
		}
		if isMap {
			text += " : " + val
		}
		out = append(out, Element{Set: e.set, Text: text, Key: key})
	}
	return out
}

// ChainRule is one rule of NetTable's base chains as nft lists it.
type ChainRule struct {
	Chain   string // ChainFwd, ChainPre, ...
	Text    string // `iifname @bridges oifname @bridges counter drop`
	Comment string // what it is for: "plumb: isolation between plumb networks"
}

// String is the rule as `nft list chain` shows it, comment included.
func (r ChainRule) String() string { return fmt.Sprintf("%s comment %q", r.Text, r.Comment) }

// ListCommand lists the rule's chain.
// Equivalent to: `nft list chain inet plumb-networks CHAIN`.
func (r ChainRule) ListCommand() string {
	return fmt.Sprintf("nft list chain inet %s %s", NetTable, r.Chain)
}

// ChainRules are the rules of chain, in order: the same for every network,
// which adds only elements (NetworkElements).
func ChainRules(chain string) []ChainRule {
	var out []ChainRule
	for _, r := range netRules[chain] {
		out = append(out, ChainRule{Chain: chain, Text: r.text, Comment: r.comment})
	}
	return out
}

// RuleFor is the rule of chain whose comment is comment; false when none.
func RuleFor(chain, comment string) (ChainRule, bool) {
	for _, r := range ChainRules(chain) {
		if r.Comment == comment {
			return r, true
		}
	}
	return ChainRule{}, false
}
