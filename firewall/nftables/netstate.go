package nftables

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// netState is what the kernel holds of NetTable, and of the iptables
// filter table as far as coexistence goes: the state every plan of the
// nftables backend starts from.
type netState struct {
	exists bool
	sets   map[string]*nft.Set
	chains map[string]*nft.Chain
	rules  map[string][]*nft.Rule
	elems  map[string]map[string]elem // set -> key -> element
	fwd    foreignState               // iptables'
	fwd6   foreignState               // ip6tables'
}

func newNetState() *netState {
	return &netState{sets: map[string]*nft.Set{}, chains: map[string]*nft.Chain{}, rules: map[string][]*nft.Rule{},
		elems: map[string]map[string]elem{}}
}

// readNet reads NetTable: its sets and their elements, its chains and
// their rules, and (all) the iptables filter table's FORWARD policy and
// plumb's rules there. With all false only the port maps are read.
// Equivalent to: `nft list table inet plumb-networks; nft list table ip
// filter`.
func readNet(c *nft.Conn, all bool) (*netState, error) {
	st := newNetState()
	t, err := c.ListTableOfFamily(NetTable, nft.TableFamilyINet)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("reading table inet %s: %w", NetTable, err)
	}
	if t != nil && err == nil {
		st.exists = true
		if err := st.readSets(c, all); err != nil {
			return nil, err
		}
		if all {
			if err := st.readChains(c); err != nil {
				return nil, err
			}
		}
	}
	if all {
		if st.fwd, err = readForeign(c, false); err != nil {
			return nil, err
		}
		if st.fwd6, err = readForeign(c, true); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// readSets reads the sets of NetTable and the elements of plumb's (of the
// port maps only, unless all).
func (st *netState) readSets(c *nft.Conn, all bool) error {
	sets, err := c.GetSets(netTable())
	if err != nil {
		return fmt.Errorf("listing the sets of table inet %s: %w", NetTable, err)
	}
	for _, s := range sets {
		st.sets[s.Name] = s
		if !slices.Contains(netSetNames, s.Name) || (!all && !slices.Contains(portMaps, s.Name)) {
			continue
		}
		els, err := c.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("listing set %s of table inet %s: %w", s.Name, NetTable, err)
		}
		m := make(map[string]elem, len(els))
		for _, se := range els {
			e := elemOf(s.Name, se)
			m[e.key] = e
		}
		st.elems[s.Name] = m
	}
	return nil
}

// readChains reads the chains of NetTable and the rules of plumb's.
func (st *netState) readChains(c *nft.Conn) error {
	chains, err := c.ListChainsOfTableFamily(nft.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("listing the chains of table inet %s: %w", NetTable, err)
	}
	for _, ch := range chains {
		if ch.Table.Name != NetTable {
			continue
		}
		st.chains[ch.Name] = ch
		if !slices.Contains(netChainNames, ch.Name) {
			continue
		}
		rules, err := c.GetRules(netTable(), ch)
		if err != nil {
			return fmt.Errorf("listing chain %s of table inet %s: %w", ch.Name, NetTable, err)
		}
		st.rules[ch.Name] = rules
	}
	return nil
}

// setSound reports whether set name exists as netSet defines it.
func (st *netState) setSound(name string) bool {
	s, want := st.sets[name], netSet(name)
	if name == MapICC && s != nil {
		// google/nftables v0.3.0 reads a verdict map's data type into
		// KeyType and loses the key's: check what it keeps.
		return s.IsMap && (s.KeyType.Name == "verdict" || s.DataType.Name == "verdict") && !s.Interval
	}
	return s != nil && s.KeyType.Name == want.KeyType.Name && s.IsMap == want.IsMap &&
		s.DataType.Name == want.DataType.Name && s.Interval == want.Interval
}

// chainHooked reports whether chain name exists as the base chain netChain
// defines.
func (st *netState) chainHooked(name string) bool {
	ch, want := st.chains[name], netChain(name)
	return ch != nil && ch.Type == want.Type && ch.Hooknum != nil && *ch.Hooknum == *want.Hooknum &&
		ch.Priority != nil && *ch.Priority == *want.Priority && ch.Policy != nil && *ch.Policy == *want.Policy
}

// rulesSound reports whether chain name holds exactly netRules[name], in
// order, counters and set ids aside.
func (st *netState) rulesSound(name string) bool {
	have, want := st.rules[name], netRules[name]
	if len(have) != len(want) {
		return false
	}
	for i, r := range have {
		if c, _ := userdata.GetString(r.UserData, userdata.TypeComment); c != want[i].comment {
			return false
		}
		if !reflect.DeepEqual(normalize(r.Exprs), normalize(want[i].exprs())) {
			return false
		}
	}
	return true
}

// normalize is exprs with what the kernel fills in or leaves out zeroed:
// counter values, set batch ids.
func normalize(exprs []expr.Any) []expr.Any {
	out := slices.Clone(exprs)
	for j, e := range out {
		switch e := e.(type) {
		case *expr.Counter:
			out[j] = &expr.Counter{}
		case *expr.Lookup:
			l := *e
			l.SetID = 0
			out[j] = &l
		}
	}
	return out
}

// others reports whether NetTable holds elements of plumb networks other
// than name, or ports of theirs. Elements without plumb's comment (made
// by hand) keep nothing alive.
func (st *netState) others(name string) bool {
	for _, set := range netSetNames {
		for _, e := range st.elems[set] {
			if strings.HasPrefix(e.comment, "plumb:") && !ownedBy(e.comment, name) {
				return true
			}
		}
	}
	return false
}
