package nftables

import (
	"slices"
	"strings"

	"github.com/google/nftables/expr"

	"github.com/plumbnet/plumb/firewall"
)

// netOpKind is one kind of change of the nftables backend.
type netOpKind int

const (
	nAddTable   netOpKind = iota // add table inet plumb-networks
	nDelTable                    // delete table inet plumb-networks
	nAddSet                      // add set|map ... NAME { ... }
	nAddChain                    // add chain ... NAME { type ... hook ... }
	nDelChain                    // delete chain ... NAME
	nFlushChain                  // flush chain ... NAME
	nAddRules                    // add rule ... NAME (each of netRules[NAME])
	nAddElem                     // add element ... SET { ELEM }
	nDelElem                     // delete element ... SET { KEY }
	nAddForeign                  // iptables -I CHAIN 1 SPEC (coexistence)
	nDelForeign                  // nft delete rule ip filter CHAIN handle H
)

// netOp is one change of a plan. A plan is written over netlink as one
// batch (queueNet), printed for a dry run (renderNet) and applied to a
// netState (apply): the three cannot drift apart.
type netOp struct {
	kind   netOpKind
	name   string // set or chain
	elem   elem
	fgn    foreignRule // nAddForeign, nDelForeign
	fgnTxt string      // nAddForeign: the rule as iptables text
}

// planStructure is what makes NetTable's sets, chains and rules as
// netSet, netChain and netRules define them, in st: nothing when they
// are. A set of the wrong type cannot be changed in place: the table is
// then made anew, with the elements of its sound sets carried over.
func planStructure(st *netState) []netOp {
	rebuild := false
	for name := range st.sets {
		rebuild = rebuild || (slices.Contains(netSetNames, name) && !st.setSound(name))
	}
	if !st.exists || rebuild {
		var ops []netOp
		if st.exists {
			ops = append(ops, netOp{kind: nDelTable})
		}
		ops = append(ops, netOp{kind: nAddTable})
		for _, s := range netSetNames {
			ops = append(ops, netOp{kind: nAddSet, name: s})
		}
		for _, ch := range netChainNames {
			ops = append(ops, netOp{kind: nAddChain, name: ch}, netOp{kind: nAddRules, name: ch})
		}
		for _, s := range netSetNames {
			if st.setSound(s) {
				for _, e := range sortedElems(st.elems[s]) {
					ops = append(ops, netOp{kind: nAddElem, name: s, elem: e})
				}
			}
		}
		return ops
	}
	var ops []netOp
	for _, s := range netSetNames {
		if st.sets[s] == nil {
			ops = append(ops, netOp{kind: nAddSet, name: s})
		}
	}
	for _, ch := range netChainNames {
		switch {
		case st.chains[ch] == nil:
			ops = append(ops, netOp{kind: nAddChain, name: ch}, netOp{kind: nAddRules, name: ch})
		case !st.chainHooked(ch):
			ops = append(ops, netOp{kind: nFlushChain, name: ch}, netOp{kind: nDelChain, name: ch},
				netOp{kind: nAddChain, name: ch}, netOp{kind: nAddRules, name: ch})
		case !st.rulesSound(ch):
			ops = append(ops, netOp{kind: nFlushChain, name: ch}, netOp{kind: nAddRules, name: ch})
		}
	}
	return ops
}

// sortedElems is m's elements by key.
func sortedElems(m map[string]elem) []elem {
	out := make([]elem, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b elem) int { return strings.Compare(a.key, b.key) })
	return out
}

// planElems is what makes the elements of sets commented exactly comment
// (or, with prefix, starting with comment) be want: the others deleted,
// what is missing or different added (an element of the same key but
// other data or comment replaced).
func planElems(st *netState, sets []string, owned func(string) bool, want []elem) []netOp {
	var ops []netOp
	deleted := map[[2]string]bool{}
	del := func(e elem) {
		if k := [2]string{e.set, e.key}; !deleted[k] {
			deleted[k] = true
			ops = append(ops, netOp{kind: nDelElem, name: e.set, elem: e})
		}
	}
	keep := map[[2]string]bool{}
	for _, e := range want {
		keep[[2]string{e.set, e.key}] = st.elems[e.set][e.key] == e
	}
	for _, s := range sets {
		for _, e := range sortedElems(st.elems[s]) {
			if owned(e.comment) && !keep[[2]string{s, e.key}] {
				del(e)
			}
		}
	}
	added := map[[2]string]bool{}
	for _, e := range want {
		k := [2]string{e.set, e.key}
		if keep[k] || added[k] {
			continue
		}
		if _, ok := st.elems[e.set][e.key]; ok {
			del(st.elems[e.set][e.key])
		}
		added[k] = true
		ops = append(ops, netOp{kind: nAddElem, name: e.set, elem: e})
	}
	return ops
}

// bridgeSets are the sets keyed by bridge.
var bridgeSets = []string{SetBridges, SetInternal, SetMasquerade, SetNAT, SetNATSubnets, MapICC,
	SetMasq6, SetNATSubnets6, SetIsolated, SetProtected, SetRouted}

// planNetwork is what makes n's elements and coexistence rules as
// EnsureNetwork leaves them, in st whose structure is sound.
func planNetwork(st *netState, n firewall.Network) []netOp {
	c := netComment(n.Name)
	ops := planElems(st, bridgeSets, func(s string) bool { return s == c }, netElems(n))
	return append(ops, planForeign(st, n)...)
}

// planPorts is what makes owner's ports on the network named name be
// exactly ports.
func planPorts(st *netState, name, owner string, ports []firewall.Port) []netOp {
	c := portComment(name, owner)
	return planElems(st, portMaps, func(s string) bool { return s == c }, portElems(name, owner, ports))
}

// planForeign is what puts n's accept rules in iptables' filter table
// while its FORWARD policy is DROP, and in ip6tables' while its FORWARD
// policy is DROP, and deletes stale ones of n's.
func planForeign(st *netState, n firewall.Network) []netOp {
	return append(planForeignOf(st.fwd, n), planForeignOf(st.fwd6, n)...)
}

// planForeignOf is planForeign in fs, iptables' or ip6tables'.
func planForeignOf(fs foreignState, n firewall.Network) []netOp {
	if !fs.policyDrop {
		return nil
	}
	exprs, text := foreignRules(n, fs.v6)
	var ops []netOp
	for _, r := range fs.rules {
		if r.network == n.Name && !slices.ContainsFunc(exprs, func(e []expr.Any) bool { return sameForeign(r.exprs, e) }) {
			ops = append(ops, netOp{kind: nDelForeign, fgn: r})
		}
	}
	for i, e := range exprs {
		if !fs.hasForeign(n.Name, e) {
			ops = append(ops, netOp{kind: nAddForeign, fgn: foreignRule{v6: fs.v6, chain: fs.target(), network: n.Name, exprs: e}, fgnTxt: text[i]})
		}
	}
	return ops
}

// planEnsureAll is what EnsureAll(nets, pubs) writes to st: the
// structure, then the elements as one difference between st and what
// every network's and owner's plan leaves (so that an element two plans
// touch is written once), deletions then additions, each grouped by set
// (so that the batch holds one message per set, whatever the number of
// elements), then the coexistence rules.
func planEnsureAll(st *netState, nets []firewall.Network, pubs []firewall.Published) []netOp {
	ops := planStructure(st)
	base := st.clone()
	base.apply(ops)
	want := base.clone()
	var elemOps, fgn []netOp
	collect := func(o []netOp) {
		want.apply(o)
		for _, op := range o {
			if op.kind == nAddElem || op.kind == nDelElem {
				elemOps = append(elemOps, op)
			} else {
				fgn = append(fgn, op)
			}
		}
	}
	for _, n := range nets {
		collect(planNetwork(want, n))
	}
	for _, p := range pubs {
		collect(planPorts(want, p.Network.Name, p.Owner, p.Ports))
	}
	return append(append(ops, elemDiff(base, want, elemOps)...), fgn...)
}

// elemDiff is what turns the elements of base into those of want, for
// the elements touched by touched: deletions then additions, each grouped
// by set in the order touched first names them.
func elemDiff(base, want *netState, touched []netOp) []netOp {
	var dels, adds []netOp
	seen := map[[2]string]bool{}
	for _, o := range touched {
		k := [2]string{o.name, o.elem.key}
		if seen[k] {
			continue
		}
		seen[k] = true
		before, had := base.elems[o.name][o.elem.key]
		after, has := want.elems[o.name][o.elem.key]
		if had && (!has || after != before) {
			dels = append(dels, netOp{kind: nDelElem, name: o.name, elem: before})
		}
		if has && (!had || after != before) {
			adds = append(adds, netOp{kind: nAddElem, name: o.name, elem: after})
		}
	}
	return append(groupBySet(dels), groupBySet(adds)...)
}

// groupBySet is ops reordered so that the ops of one set are together,
// the sets in the order ops first names them, each set's ops in order.
func groupBySet(ops []netOp) []netOp {
	var order []string
	by := map[string][]netOp{}
	for _, o := range ops {
		if by[o.name] == nil {
			order = append(order, o.name)
		}
		by[o.name] = append(by[o.name], o)
	}
	out := make([]netOp, 0, len(ops))
	for _, s := range order {
		out = append(out, by[s]...)
	}
	return out
}

// planDeleteNetwork is what DeleteNetwork(name) changes in st: every
// element of name's, or the whole table when no other network has any
// left, and name's coexistence rules.
func planDeleteNetwork(st *netState, name string) []netOp {
	var ops []netOp
	switch {
	case !st.exists:
	case !st.others(name):
		ops = append(ops, netOp{kind: nDelTable})
	default:
		for _, s := range netSetNames {
			for _, e := range sortedElems(st.elems[s]) {
				if ownedBy(e.comment, name) {
					ops = append(ops, netOp{kind: nDelElem, name: s, elem: e})
				}
			}
		}
	}
	for _, r := range append(slices.Clone(st.fwd.rules), st.fwd6.rules...) {
		if r.network == name {
			ops = append(ops, netOp{kind: nDelForeign, fgn: r})
		}
	}
	return ops
}

// planDeletePorts is what DeletePorts(name, owner) deletes from st.
func planDeletePorts(st *netState, name, owner string) []netOp {
	return planElems(st, portMaps, func(s string) bool { return s == portComment(name, owner) }, nil)
}
