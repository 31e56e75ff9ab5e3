package nftables

import (
	"fmt"
	"strings"

	nft "github.com/google/nftables"
)

// guardOpKind is one kind of change to plumb's table.
type guardOpKind int

const (
	opAddTable   guardOpKind = iota // add table inet plumb
	opAddSet                        // add set ... localnet_bridges { type ifname; }
	opDelChain                      // delete chain ... localnet_guard
	opAddChain                      // add chain ... localnet_guard { type filter hook input ... }
	opFlushChain                    // flush chain ... localnet_guard
	opAddRules                      // add rule ... (each of guardRuleDefs)
	opAddElement                    // add element ... { "BRIDGE" }
	opDelElement                    // delete element ... { "BRIDGE" }
	opDelTable                      // delete table inet plumb
	opDelSet                        // delete set ... localnet_bridges
)

// guardOp is one change of a plan: what EnsureLocalnetGuard and
// DeleteLocalnetGuard decide, before anything is written. The one plan is
// written over netlink (queue), printed as `nft -f` input for a dry run
// (render), and applied to a tableState (apply), so the three cannot
// drift apart.
type guardOp struct {
	kind   guardOpKind
	bridge string // the element of opAddElement and opDelElement
}

// planEnsure is what EnsureLocalnetGuard(bridge) must write to the table
// as st found it. A sound guard gets bridge's element alone: an added
// element costs a fraction of a millisecond, while a transaction that
// replaces a rule or updates a base chain waits for an RCU grace period
// (about 13 ms on the 6.18 lab kernel).
func planEnsure(st *tableState, bridge string) []guardOp {
	elem := guardOp{kind: opAddElement, bridge: bridge}
	if len(st.structureProblems()) == 0 {
		if st.guarded[bridge] {
			return nil
		}
		return []guardOp{elem}
	}
	ops := []guardOp{{kind: opAddTable}, {kind: opAddSet}}
	if st.hasChain && !st.chainHooked() {
		ops = append(ops, guardOp{kind: opDelChain}) // a base chain's hook cannot be changed
	}
	return append(ops, guardOp{kind: opAddChain}, guardOp{kind: opFlushChain}, guardOp{kind: opAddRules}, elem)
}

// planDelete is what DeleteLocalnetGuard(bridge) must change in the table
// as st found it; nothing when there is nothing to do.
func planDelete(st *tableState, bridge string) []guardOp {
	if !st.exists {
		return nil
	}
	var ops []guardOp
	if st.guarded[bridge] {
		ops = append(ops, guardOp{kind: opDelElement, bridge: bridge})
	}
	for b := range st.guarded {
		if b != bridge {
			return ops // another bridge is still guarded
		}
	}
	if st.onlyGuard() {
		return append(ops, guardOp{kind: opDelTable})
	}
	if st.hasChain {
		ops = append(ops, guardOp{kind: opDelChain})
	}
	if st.hasSet {
		ops = append(ops, guardOp{kind: opDelSet})
	}
	return ops
}

// queue queues ops on c, one netlink batch for c.Flush.
func queue(c *nft.Conn, ops []guardOp) error {
	t, set, ch := plumbTable(), guardSet(), guardChain()
	for _, o := range ops {
		var err error
		switch o.kind {
		case opAddTable:
			t = c.AddTable(t)
		case opAddSet:
			err = c.AddSet(set, nil)
		case opDelChain:
			c.DelChain(guardChain())
		case opAddChain:
			ch = c.AddChain(ch)
		case opFlushChain:
			c.FlushChain(ch)
		case opAddRules:
			for _, exprs := range guardRules(set.ID) {
				c.AddRule(&nft.Rule{Table: t, Chain: ch, Exprs: exprs, UserData: ruleUserData()})
			}
		case opAddElement:
			err = c.SetAddElements(set, []nft.SetElement{{Key: ifnameKey(o.bridge)}})
		case opDelElement:
			err = c.SetDeleteElements(set, []nft.SetElement{{Key: ifnameKey(o.bridge)}})
		case opDelTable:
			c.DelTable(t)
		case opDelSet:
			c.DelSet(set)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// render is ops as `nft -f` input, one command a line; "" for none.
func render(ops []guardOp) string {
	var b strings.Builder
	obj := func(verb, kind, name string) string {
		return fmt.Sprintf("%s %s inet %s %s", verb, kind, TableName, name)
	}
	for _, o := range ops {
		switch o.kind {
		case opAddTable:
			fmt.Fprintf(&b, "add table inet %s\n", TableName)
		case opAddSet:
			fmt.Fprintf(&b, "%s { type %s; }\n", obj("add", "set", SetName), guardSet().KeyType.Name)
		case opDelChain:
			b.WriteString(obj("delete", "chain", ChainName) + "\n")
		case opAddChain:
			fmt.Fprintf(&b, "%s { %s }\n", obj("add", "chain", ChainName), chainText(guardChain()))
		case opFlushChain:
			b.WriteString(obj("flush", "chain", ChainName) + "\n")
		case opAddRules:
			for _, r := range guardRuleDefs {
				fmt.Fprintf(&b, "%s %s comment %q\n", obj("add", "rule", ChainName), r.text(), ruleComment)
			}
		case opAddElement:
			fmt.Fprintf(&b, "%s { %q }\n", obj("add", "element", SetName), o.bridge)
		case opDelElement:
			fmt.Fprintf(&b, "%s { %q }\n", obj("delete", "element", SetName), o.bridge)
		case opDelTable:
			fmt.Fprintf(&b, "delete table inet %s\n", TableName)
		case opDelSet:
			b.WriteString(obj("delete", "set", SetName) + "\n")
		}
	}
	return b.String()
}

// chainText is base chain ch's declaration as nft reads it: `type filter
// hook input priority filter; policy accept;`.
func chainText(ch *nft.Chain) string {
	hooks := map[nft.ChainHook]string{
		*nft.ChainHookPrerouting: "prerouting", *nft.ChainHookInput: "input", *nft.ChainHookForward: "forward",
		*nft.ChainHookOutput: "output", *nft.ChainHookPostrouting: "postrouting",
	}
	prio := fmt.Sprint(int32(*ch.Priority))
	if *ch.Priority == *nft.ChainPriorityFilter {
		prio = "filter"
	}
	policy := "accept"
	if *ch.Policy == nft.ChainPolicyDrop {
		policy = "drop"
	}
	return fmt.Sprintf("type %s hook %s priority %s; policy %s;", ch.Type, hooks[*ch.Hooknum], prio, policy)
}

// apply changes st as ops change the table it was read from.
func (st *tableState) apply(ops []guardOp) {
	for _, o := range ops {
		switch o.kind {
		case opAddTable:
			st.exists = true
		case opAddSet:
			if !st.hasSet {
				st.hasSet, st.set, st.sets, st.use = true, guardSet(), append(st.sets, SetName), st.use+1
			}
		case opDelChain:
			st.dropChain()
		case opAddChain:
			if !st.hasChain {
				st.hasChain, st.chain, st.chains, st.use = true, guardChain(), append(st.chains, ChainName), st.use+1
			}
		case opFlushChain:
			st.rules = nil
		case opAddRules:
			for _, exprs := range guardRules(0) {
				st.rules = append(st.rules, &nft.Rule{Exprs: exprs, UserData: ruleUserData()})
			}
		case opAddElement:
			st.guarded[o.bridge] = true
		case opDelElement:
			delete(st.guarded, o.bridge)
		case opDelTable:
			*st = tableState{guarded: map[string]bool{}}
		case opDelSet:
			st.dropSet()
		}
	}
}

func (st *tableState) dropChain() {
	if st.hasChain {
		st.hasChain, st.chain, st.rules, st.use = false, nil, nil, st.use-1
		st.chains = deleteName(st.chains, ChainName)
	}
}

func (st *tableState) dropSet() {
	if st.hasSet {
		st.hasSet, st.set, st.guarded, st.use = false, nil, map[string]bool{}, st.use-1
		st.sets = deleteName(st.sets, SetName)
	}
}

func deleteName(names []string, name string) []string {
	var out []string
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}
