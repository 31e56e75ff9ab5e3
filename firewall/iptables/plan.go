package iptables

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/plumbnet/plumb/firewall"
)

// opKind is one iptables-restore command.
type opKind int

const (
	opNewChain    opKind = iota // -N CHAIN         (never ":CHAIN - [0:0]", see line)
	opInsert                    // -I CHAIN POS SPEC (POS 1 unless pos says otherwise)
	opAppend                    // -A CHAIN SPEC
	opDelete                    // -D CHAIN SPEC
	opFlush                     // -F CHAIN
	opDeleteChain               // -X CHAIN
)

// op is one change to one table. A plan's ops are applied in order, all of
// them in one `iptables-restore --noflush`, or one by one as a fallback.
type op struct {
	kind         opKind
	table, chain string
	spec         []string
	pos          int // opInsert: the position, from 1; 0 is 1
}

// line renders o as an iptables-restore line.
func (o op) line() string {
	switch o.kind {
	case opNewChain:
		// Not ":CHAIN - [0:0]": under --noflush that line flushes a chain
		// that exists, so two writers racing to create it would lose the
		// first one's rules. -N fails instead, and the table is left as is.
		return "-N " + o.chain
	case opInsert:
		return "-I " + o.chain + " " + strconv.Itoa(max(o.pos, 1)) + " " + joinSpec(o.spec)
	case opAppend:
		return "-A " + o.chain + " " + joinSpec(o.spec)
	case opDelete:
		return "-D " + o.chain + " " + joinSpec(o.spec)
	case opFlush:
		return "-F " + o.chain
	case opDeleteChain:
		return "-X " + o.chain
	}
	panic(fmt.Sprintf("iptables: unknown op kind %d", o.kind))
}

// String returns o as an iptables command line.
func (o op) String() string { return "iptables -t " + o.table + " " + o.line() }

// plan is what one EnsureNetwork or DeleteNetwork changes.
type plan struct {
	ops []op
	// drop lists tables to remove afterwards: tables plumb created that
	// hold nothing once plumb's chains are gone (iptables-nft only).
	drop []string
	// whole lists tables plumb created that hold nothing but plumb's
	// chains and the jumps into them: each is dropped in one step, its
	// rules with it, and wholeOps[table] removes them one by one should
	// the drop fail.
	whole    []string
	wholeOps map[string][]op
}

// payload renders the ops as iptables-restore input, one *TABLE ... COMMIT
// section per table that has ops. Restore applies each section atomically.
func (p plan) payload() []byte {
	var b bytes.Buffer
	for _, t := range tables {
		var lines []string
		for _, o := range p.ops {
			if o.table == t {
				lines = append(lines, o.line())
			}
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "*%s\n", t)
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		b.WriteString("COMMIT\n")
	}
	return b.Bytes()
}

// dropPayload renders the iptables-restore input that, without --noflush,
// removes table name: under iptables-nft flushing a table deletes it.
func dropPayload(name string) []byte { return []byte("*" + name + "\nCOMMIT\n") }

// planEnsure computes what makes n's rules, plumb's chains and their jumps
// present exactly once in s:
//   - a chain of the skeleton that is missing is created;
//   - a jump that is missing, duplicated or not first in its parent is
//     deleted and inserted again at position 1;
//   - the rules commented "plumb:NAME" of each plumb chain that differ from
//     Rules(n) (missing, extra, reordered, or from an older config) are all
//     deleted and Rules(n) appended.
//
// An empty plan means nothing to do.
//
// s is one family's ruleset (iptables or ip6tables): only n's rules of that
// family are planned.
func planEnsure(s *snapshot, n firewall.Network) (plan, error) {
	want := rulesOfFamily(Rules(n), s.v6)
	p, err := planSkeleton(s, want)
	if err != nil {
		return plan{}, err
	}
	p.ops = append(p.ops, planRules(s, NetworkComment(n.Name), want)...)
	return p, nil
}

// planSkeleton computes what makes plumb's chains and their jumps present
// exactly once in s: a missing chain is created; a jump that is missing,
// duplicated or not first in its parent is deleted and inserted again at
// position 1. A lazy chain is created only when one of want (the rules
// about to be installed) is in it or jumps to it.
func planSkeleton(s *snapshot, want []Rule) (plan, error) {
	var p plan
	sk := skeletonOf(s.v6)
	for _, tname := range tables {
		t := s.tables[tname]
		if t != nil && t.incompatible {
			return plan{}, fmt.Errorf("table %s: %s-save cannot show it (rules made by nft?)", tname, binary(s.v6))
		}
		for _, d := range sk {
			if d.lazy && !needed(d, want) {
				continue
			}
			if d.table == tname && t.chain(d.name) == nil {
				p.ops = append(p.ops, op{kind: opNewChain, table: tname, chain: d.name})
			}
		}
		for _, d := range sk {
			if d.table == tname && d.parent != "" {
				p.ops = append(p.ops, fixJump(t, d)...)
			}
		}
	}
	return p, nil
}

// needed reports whether one of want is in chain d or jumps to it.
func needed(d chainDef, want []Rule) bool {
	return slices.ContainsFunc(want, func(r Rule) bool {
		return r.Table == d.table && (r.Chain == d.name || specValue(r.Spec, "-j") == d.name)
	})
}

// planRules computes what makes the rules commented comment in plumb's
// chains exactly want, in order: in each chain whose rules of that
// comment differ from want's (missing, extra, reordered, or from an older
// config), they are all deleted and want's appended. Only the rules of
// want of s's family count.
func planRules(s *snapshot, comment string, want []Rule) []op {
	var ops []op
	for _, d := range skeletonOf(s.v6) {
		var need [][]string
		for _, r := range want {
			if r.V6 == s.v6 && r.Table == d.table && r.Chain == d.name {
				need = append(need, r.Spec)
			}
		}
		have := rulesWithComment(s.tables[d.table].chain(d.name), comment)
		if slices.EqualFunc(have, need, slices.Equal) {
			continue
		}
		for _, r := range have {
			ops = append(ops, op{kind: opDelete, table: d.table, chain: d.name, spec: r})
		}
		for _, r := range need {
			ops = append(ops, op{kind: opAppend, table: d.table, chain: d.name, spec: r})
		}
	}
	return ops
}

// fixJump returns the ops that leave exactly one jump into d, first in its
// parent chain. t is nil when the table does not exist yet. The jump from a
// built-in chain is marked commentCreatedTable when plumb creates the table
// now, and keeps the mark when it had it.
func fixJump(t *table, d chainDef) []op {
	parent := t.chain(d.parent)
	var copies [][]string
	first, owner := false, t == nil
	if parent != nil {
		for i, r := range parent.rules {
			if specValue(r, "-j") != d.name {
				continue
			}
			copies = append(copies, r)
			first = first || i == 0
			owner = owner || specValue(r, "--comment") == commentCreatedTable
		}
	}
	comment := commentPlumb
	if owner && d.fromBuiltin() {
		comment = commentCreatedTable
	}
	want := d.jumpSpec(comment)
	if len(copies) == 1 && first && slices.Equal(copies[0], want) {
		return nil
	}
	var ops []op
	for _, r := range copies {
		ops = append(ops, op{kind: opDelete, table: d.table, chain: d.parent, spec: r})
	}
	return append(ops, op{kind: opInsert, table: d.table, chain: d.parent, spec: want})
}

// rulesWithComment returns the rules of c whose comment is exactly comment.
func rulesWithComment(c *chain, comment string) [][]string {
	if c == nil {
		return nil
	}
	byComment, _ := c.index()
	return slices.Clip(byComment[comment]) // an append never writes into the index
}

// ownedBy reports whether a rule with comment belongs to the network named
// name: its comment is "plumb:NAME", or "plumb:NAME/..." for the rules a
// later API attaches to the network (published ports). EnsureNetwork only
// manages the first kind; DeleteNetwork removes both.
func ownedBy(comment, name string) bool {
	c := NetworkComment(name)
	return comment == c || strings.HasPrefix(comment, c+"/")
}

// planDelete computes what removes the rules of the network named name. When
// no rule of another network (no comment "plumb:OTHER") is left in plumb's
// chains, it removes the jumps and the chains instead, and lists for
// dropping the tables that plumb created and that are then empty: only
// built-in chains, policy ACCEPT, no rule (iptables-nft only; a legacy table
// cannot be removed). An empty plan means nothing to do.
func planDelete(s *snapshot, name string) (plan, error) {
	others := false
	sk := skeletonOf(s.v6)
	for _, d := range sk {
		if t := s.tables[d.table]; t != nil && t.incompatible {
			return plan{}, fmt.Errorf("table %s: %s-save cannot show it (rules made by nft?)", d.table, binary(s.v6))
		}
		if c := s.tables[d.table].chain(d.name); c != nil {
			for _, r := range c.rules {
				v := specValue(r, "--comment")
				others = others || (strings.HasPrefix(v, commentNetworkPrefix) && !ownedBy(v, name))
			}
		}
	}

	var p plan
	if others {
		for _, d := range sk {
			c := s.tables[d.table].chain(d.name)
			if c == nil {
				continue
			}
			for _, r := range c.rules {
				if ownedBy(specValue(r, "--comment"), name) {
					p.ops = append(p.ops, op{kind: opDelete, table: d.table, chain: d.name, spec: r})
				}
			}
		}
		return p, nil
	}

	for _, tname := range tables {
		t := s.tables[tname]
		if t == nil {
			continue
		}
		var ops []op
		owned := false
		for _, d := range sk {
			if d.table != tname || !d.fromBuiltin() {
				continue
			}
			for _, r := range t.chain(d.parent).rules {
				if specValue(r, "-j") == d.name {
					ops = append(ops, op{kind: opDelete, table: tname, chain: d.parent, spec: r})
					owned = owned || specValue(r, "--comment") == commentCreatedTable
				}
			}
		}
		for _, kind := range []opKind{opFlush, opDeleteChain} {
			for _, d := range sk {
				if d.table == tname && t.chain(d.name) != nil {
					ops = append(ops, op{kind: kind, table: tname, chain: d.name})
				}
			}
		}
		// A table plumb created that holds only plumb's chains and its
		// marked jumps is dropped whole, in one step: removing plumb's
		// rules first and the table after left, when killed in between, an
		// empty table no later rm would know to be plumb's.
		if s.nft && owned && onlyPlumb(t) {
			p.whole = append(p.whole, tname)
			if p.wholeOps == nil {
				p.wholeOps = map[string][]op{}
			}
			p.wholeOps[tname] = ops
			continue
		}
		p.ops = append(p.ops, ops...)
		if s.nft && owned && emptyWithoutPlumb(t) {
			p.drop = append(p.drop, tname)
		}
	}
	return p, nil
}

// onlyPlumb reports whether t holds nothing but plumb's chains and, in its
// built-in chains (policy ACCEPT), plumb's jumps into them with plumb's
// comment: nothing another writer put there would go with the table.
func onlyPlumb(t *table) bool {
	ours := map[string]bool{}
	for _, d := range skeleton {
		if d.table == t.name {
			ours[d.name] = true
		}
	}
	for _, name := range t.order {
		c := t.chains[name]
		if ours[name] {
			continue
		}
		if !c.builtin() || c.policy != "ACCEPT" {
			return false
		}
		for _, r := range c.rules {
			cm := specValue(r, "--comment")
			if !ours[specValue(r, "-j")] || (cm != commentPlumb && cm != commentCreatedTable) {
				return false
			}
		}
	}
	return true
}

// emptyWithoutPlumb reports whether t holds nothing once plumb's chains and
// the jumps into them are gone: every other chain is built in, has policy
// ACCEPT and no rule except a jump to one of plumb's chains.
func emptyWithoutPlumb(t *table) bool {
	ours := map[string]bool{}
	for _, d := range skeleton {
		if d.table == t.name {
			ours[d.name] = true
		}
	}
	for _, name := range t.order {
		c := t.chains[name]
		if ours[name] {
			continue
		}
		if !c.builtin() || c.policy != "ACCEPT" {
			return false
		}
		for _, r := range c.rules {
			if !ours[specValue(r, "-j")] {
				return false
			}
		}
	}
	return true
}

// undoOps returns the ops that take back ops once applied to s, in the
// order to apply them: a chain created is deleted, a rule inserted or
// appended is deleted, a rule deleted is inserted again where it was. It
// is how a change across both families stays all-or-nothing: when the
// ip6tables restore fails, the iptables one already made is undone. Flushes
// and chain deletions (never in an ensure) have no undo and end the list.
func undoOps(s *snapshot, ops []op) []op {
	state := memFromSnapshot(s).tables
	var undo []op
	for _, o := range ops {
		u := op{table: o.table, chain: o.chain, spec: o.spec}
		switch o.kind {
		case opNewChain:
			u.kind = opDeleteChain
		case opInsert, opAppend:
			u.kind = opDelete
		case opDelete:
			u.kind, u.pos = opInsert, 1
			if t := state[o.table]; t != nil && t.chain(o.chain) != nil {
				u.pos = max(1, 1+slices.IndexFunc(t.chain(o.chain).rules, func(r []string) bool { return slices.Equal(r, o.spec) }))
			}
		default:
			slices.Reverse(undo)
			return undo
		}
		_ = memExec(state, o.table, o.line()) // a failure leaves positions as they were
		undo = append(undo, u)
	}
	slices.Reverse(undo)
	return undo
}
