package nftables

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	nft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// tableState is what the kernel holds of plumb's table, as far as the
// guard is concerned.
type tableState struct {
	exists   bool
	use      uint32 // the table's use count: its chains, sets, maps, objects and flowtables
	chains   []string
	sets     []string
	hasChain bool
	hasSet   bool
	chain    *nft.Chain
	set      *nft.Set
	rules    []*nft.Rule
	guarded  map[string]bool // the elements of the set
}

// readTable reads plumb's table: its chains and sets, and the guard's
// chain, rules and set elements when they exist. Equivalent to: `nft list
// table inet plumb`.
func readTable(c *nft.Conn) (*tableState, error) {
	st := &tableState{guarded: map[string]bool{}}
	tables, err := c.ListTablesOfFamily(nft.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("listing inet tables: %w", err)
	}
	i := slices.IndexFunc(tables, func(t *nft.Table) bool { return t.Name == TableName })
	if i < 0 {
		return st, nil
	}
	t := tables[i]
	st.exists, st.use = true, tableUse(t)
	chains, err := c.ListChainsOfTableFamily(nft.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("listing the chains of table inet %s: %w", TableName, err)
	}
	for _, ch := range chains {
		if ch.Table.Name == TableName {
			st.chains = append(st.chains, ch.Name)
			if ch.Name == ChainName {
				st.hasChain, st.chain = true, ch
			}
		}
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return nil, fmt.Errorf("listing the sets of table inet %s: %w", TableName, err)
	}
	for _, s := range sets {
		st.sets = append(st.sets, s.Name)
		if s.Name == SetName {
			st.hasSet, st.set = true, s
		}
	}
	if st.hasSet {
		elems, err := c.GetSetElements(st.set)
		if err != nil {
			return nil, fmt.Errorf("listing set %s: %w", SetName, err)
		}
		for _, e := range elems {
			st.guarded[ifnameOf(e.Key)] = true
		}
	}
	if st.hasChain {
		if st.rules, err = c.GetRules(t, st.chain); err != nil {
			return nil, fmt.Errorf("listing chain %s: %w", ChainName, err)
		}
	}
	return st, nil
}

// tableUse is t's use count. google/nftables v0.3.0 decodes
// NFTA_TABLE_USE, a big-endian attribute, in host byte order: put the
// bytes back and read them as the kernel wrote them. (The lifecycle test
// fails, a table left behind, should a later version fix the decoding.)
func tableUse(t *nft.Table) uint32 {
	return binaryutil.BigEndian.Uint32(binaryutil.NativeEndian.PutUint32(t.Use))
}

// onlyGuard reports whether the guard's chain and set are all the table
// holds (the use count also counts objects and flowtables, which are
// listed nowhere else here).
func (st *tableState) onlyGuard() bool {
	for _, ch := range st.chains {
		if ch != ChainName {
			return false
		}
	}
	for _, s := range st.sets {
		if s != SetName {
			return false
		}
	}
	return st.use == uint32(len(st.chains)+len(st.sets))
}

// structureProblems lists what keeps the table from holding the guard as
// EnsureLocalnetGuard leaves it, whichever bridges it guards.
func (st *tableState) structureProblems() []error {
	if !st.exists {
		return []error{fmt.Errorf("table inet %s missing", TableName)}
	}
	var out []error
	switch {
	case !st.hasSet:
		out = append(out, fmt.Errorf("set %s missing", SetName))
	case st.set.KeyType.Name != nft.TypeIFName.Name || st.set.Interval || st.set.IsMap:
		out = append(out, fmt.Errorf("set %s is not a plain set of type ifname", SetName))
	}
	switch {
	case !st.hasChain:
		out = append(out, fmt.Errorf("chain %s missing", ChainName))
	case !st.chainHooked():
		out = append(out, fmt.Errorf("chain %s is not type filter hook input priority filter policy accept", ChainName))
	case !sameRules(st.rules):
		out = append(out, fmt.Errorf("chain %s does not hold exactly the guard's rules", ChainName))
	}
	return out
}

// chainHooked reports whether the guard's chain, which exists, is the base
// chain guardChain describes.
func (st *tableState) chainHooked() bool {
	ch, want := st.chain, guardChain()
	return ch.Type == want.Type && ch.Hooknum != nil && *ch.Hooknum == *want.Hooknum &&
		ch.Priority != nil && *ch.Priority == *want.Priority && ch.Policy != nil && *ch.Policy == *want.Policy
}

// sameRules reports whether rules are the guard's rules, in order, the
// counters' values and the set's batch id aside.
func sameRules(rules []*nft.Rule) bool {
	want := guardRules(0)
	if len(rules) != len(want) {
		return false
	}
	for i, r := range rules {
		if c, _ := userdata.GetString(r.UserData, userdata.TypeComment); c != ruleComment {
			return false
		}
		got := slices.Clone(r.Exprs)
		for j, e := range got {
			switch e := e.(type) {
			case *expr.Counter:
				got[j] = &expr.Counter{}
			case *expr.Lookup:
				l := *e
				l.SetID = 0
				got[j] = &l
			}
		}
		if !reflect.DeepEqual(got, want[i]) {
			return false
		}
	}
	return true
}

// GuardedBridges returns the bridges the guard holds (the elements of set
// localnet_bridges), sorted; none when the table or the set is missing. It
// changes nothing and takes no lock. Equivalent to: `nft list set inet
// plumb localnet_bridges`.
func (g *LocalnetGuard) GuardedBridges() ([]string, error) {
	c, err := dial()
	if err != nil {
		return nil, fmt.Errorf("listing the bridges the localnet guard holds: %w", err)
	}
	defer c.CloseLasting()
	st, err := readTable(c)
	if err != nil {
		return nil, fmt.Errorf("listing the bridges the localnet guard holds: %w", err)
	}
	return slices.Sorted(maps.Keys(st.guarded)), nil
}
