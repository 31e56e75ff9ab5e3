package nftables

import (
	"fmt"
	"maps"
	"strings"

	nft "github.com/google/nftables"
)

// queueNet queues ops on c, one netlink batch for c.Flush. Consecutive
// element ops on one set go in one message.
func queueNet(c *nft.Conn, ops []netOp) error {
	t := netTable()
	for i := 0; i < len(ops); i++ {
		o := ops[i]
		var err error
		switch o.kind {
		case nAddTable:
			c.AddTable(t)
		case nDelTable:
			c.DelTable(t)
		case nAddSet:
			err = c.AddSet(netSet(o.name), nil)
		case nAddChain:
			c.AddChain(netChain(o.name))
		case nDelChain:
			c.DelChain(netChain(o.name))
		case nFlushChain:
			c.FlushChain(netChain(o.name))
		case nAddRules:
			for _, r := range netRules[o.name] {
				c.AddRule(&nft.Rule{Table: t, Chain: netChain(o.name), Exprs: r.exprs(), UserData: userData(r.comment)})
			}
		case nAddElem, nDelElem:
			var els []nft.SetElement
			j := i
			for ; j < len(ops) && ops[j].kind == o.kind && ops[j].name == o.name; j++ {
				els = append(els, ops[j].elem.setElement())
			}
			i = j - 1
			if o.kind == nAddElem {
				err = c.SetAddElements(netSet(o.name), els)
			} else {
				err = c.SetDeleteElements(netSet(o.name), els)
			}
		case nAddForeign:
			t := filterTbl(o.fgn.v6)
			c.InsertRule(&nft.Rule{Table: t, Chain: &nft.Chain{Name: o.fgn.chain, Table: t}, Exprs: o.fgn.exprs})
		case nDelForeign:
			t := filterTbl(o.fgn.v6)
			err = c.DelRule(&nft.Rule{Table: t, Chain: &nft.Chain{Name: o.fgn.chain, Table: t}, Handle: o.fgn.handle})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// renderNet is ops as a dry run prints them: the changes of NetTable
// (and deletions of plumb's coexistence rules) as `nft -f` input, and the
// coexistence rules to insert as `iptables-restore --noflush` input
// (iptables-nft's own encoding of a conntrack match has no nft syntax).
// Either is "" when empty.
func renderNet(ops []netOp) (nftText, iptText string) {
	var b, ipt strings.Builder
	obj := func(verb, kind, name string) string {
		return fmt.Sprintf("%s %s inet %s %s", verb, kind, NetTable, name)
	}
	for _, o := range ops {
		switch o.kind {
		case nAddTable:
			fmt.Fprintf(&b, "add table inet %s\n", NetTable)
		case nDelTable:
			fmt.Fprintf(&b, "delete table inet %s\n", NetTable)
		case nAddSet:
			kind := "set"
			if netSet(o.name).IsMap {
				kind = "map"
			}
			fmt.Fprintf(&b, "%s { %s }\n", obj("add", kind, o.name), setDecl(o.name))
		case nAddChain:
			fmt.Fprintf(&b, "%s { %s }\n", obj("add", "chain", o.name), netChainText(netChain(o.name)))
		case nDelChain:
			b.WriteString(obj("delete", "chain", o.name) + "\n")
		case nFlushChain:
			b.WriteString(obj("flush", "chain", o.name) + "\n")
		case nAddRules:
			for _, r := range netRules[o.name] {
				fmt.Fprintf(&b, "%s %s comment %q\n", obj("add", "rule", o.name), r.text, r.comment)
			}
		case nAddElem:
			b.WriteString(elemCmd("add", o.elem) + "\n")
		case nDelElem:
			b.WriteString(elemCmd("delete", o.elem) + "\n")
		case nAddForeign:
			if !o.fgn.v6 {
				fmt.Fprintf(&ipt, "-I %s 1 %s\n", o.fgn.chain, o.fgnTxt)
			}
		case nDelForeign:
			fam := "ip"
			if o.fgn.v6 {
				fam = "ip6"
			}
			fmt.Fprintf(&b, "delete rule %s %s %s handle %d\n", fam, filterTable, o.fgn.chain, o.fgn.handle)
		}
	}
	if ipt.Len() > 0 {
		return b.String(), "*filter\n" + ipt.String() + "COMMIT\n"
	}
	return b.String(), ""
}

// netChainText is base chain ch's declaration as nft reads it. nft names
// priority -100 "dstnat" on the prerouting hook only and 100 "srcnat" on
// postrouting only: elsewhere (output) the number stands.
func netChainText(ch *nft.Chain) string {
	s := chainText(ch)
	for _, p := range []struct {
		prio nft.ChainPriority
		hook nft.ChainHook
		name string
	}{{*nft.ChainPriorityNATDest, *nft.ChainHookPrerouting, "dstnat"}, {*nft.ChainPriorityNATSource, *nft.ChainHookPostrouting, "srcnat"}} {
		if *ch.Priority == p.prio && *ch.Hooknum == p.hook {
			s = strings.Replace(s, fmt.Sprintf("priority %d;", int32(p.prio)), "priority "+p.name+";", 1)
		}
	}
	return s
}

// clone is a copy of st that apply can change without changing st.
func (st *netState) clone() *netState {
	c := *st
	c.sets, c.chains, c.rules = maps.Clone(st.sets), maps.Clone(st.chains), maps.Clone(st.rules)
	c.elems = make(map[string]map[string]elem, len(st.elems))
	for k, m := range st.elems {
		c.elems[k] = maps.Clone(m)
	}
	c.fwd.rules = append([]foreignRule(nil), st.fwd.rules...)
	c.fwd6.rules = append([]foreignRule(nil), st.fwd6.rules...)
	return &c
}

// apply changes st as ops change the tables it was read from.
func (st *netState) apply(ops []netOp) {
	for _, o := range ops {
		switch o.kind {
		case nAddTable:
			st.exists = true
		case nDelTable:
			fwd, fwd6 := st.fwd, st.fwd6
			*st = *newNetState()
			st.fwd, st.fwd6 = fwd, fwd6
		case nAddSet:
			if st.sets[o.name] == nil {
				st.sets[o.name], st.elems[o.name] = netSet(o.name), map[string]elem{}
			}
		case nAddChain:
			if st.chains[o.name] == nil {
				st.chains[o.name] = netChain(o.name)
			}
		case nDelChain:
			delete(st.chains, o.name)
			delete(st.rules, o.name)
		case nFlushChain:
			st.rules[o.name] = nil
		case nAddRules:
			for _, r := range netRules[o.name] {
				st.rules[o.name] = append(st.rules[o.name], &nft.Rule{Exprs: r.exprs(), UserData: userData(r.comment)})
			}
		case nAddElem:
			if st.elems[o.name] == nil {
				st.elems[o.name] = map[string]elem{}
			}
			st.elems[o.name][o.elem.key] = o.elem
		case nDelElem:
			delete(st.elems[o.name], o.elem.key)
		default:
			st.applyForeign(o)
		}
	}
}

// applyForeign applies a coexistence op to st.
func (st *netState) applyForeign(o netOp) {
	fs := &st.fwd
	if o.fgn.v6 {
		fs = &st.fwd6
	}
	switch o.kind {
	case nAddForeign:
		fs.rules = append(fs.rules, o.fgn)
	case nDelForeign:
		for i, r := range fs.rules {
			if r.chain == o.fgn.chain && r.handle == o.fgn.handle && r.network == o.fgn.network && sameForeign(r.exprs, o.fgn.exprs) {
				fs.rules = append(fs.rules[:i:i], fs.rules[i+1:]...)
				break
			}
		}
	}
}

// renderForeign6 is the coexistence rules ops insert into ip6tables'
// filter table, as `ip6tables-restore --noflush` input; "" when none.
func renderForeign6(ops []netOp) string {
	var b strings.Builder
	for _, o := range ops {
		if o.kind == nAddForeign && o.fgn.v6 {
			fmt.Fprintf(&b, "-I %s 1 %s\n", o.fgn.chain, o.fgnTxt)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "*filter\n" + b.String() + "COMMIT\n"
}
