package nftables

import (
	"bytes"
	"testing"

	nft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

func TestIfnameKey(t *testing.T) {
	for _, name := range []string{"a", "pb-0123456789ab", "fifteen-bytes-x"} {
		k := ifnameKey(name)
		if len(k) != 16 || !bytes.HasPrefix(k, []byte(name)) || ifnameOf(k) != name {
			t.Errorf("ifnameKey(%q) = %q, back %q", name, k, ifnameOf(k))
		}
	}
}

// TestGuardRulesMatchRecorded: the rules, as the kernel lists them (batch
// set id 0, counters counting), compare equal to the guard's; a rule
// missing its comment or its drop does not.
func TestGuardRulesMatchRecorded(t *testing.T) {
	listed := func() []*nft.Rule {
		var rs []*nft.Rule
		for _, exprs := range guardRules(7) {
			for i, e := range exprs {
				if _, ok := e.(*expr.Counter); ok {
					exprs[i] = &expr.Counter{Packets: 3, Bytes: 180}
				}
			}
			rs = append(rs, &nft.Rule{Exprs: exprs, UserData: ruleUserData()})
		}
		return rs
	}
	if !sameRules(listed()) {
		t.Fatal("the guard's own rules, listed, do not compare equal")
	}
	rs := listed()
	rs[1].UserData = nil
	if sameRules(rs) {
		t.Error("a rule without the comment compares equal")
	}
	rs = listed()
	rs[0].Exprs = rs[0].Exprs[:len(rs[0].Exprs)-1]
	if sameRules(rs) {
		t.Error("a rule without its verdict compares equal")
	}
	if sameRules(listed()[:1]) {
		t.Error("one rule of two compares equal")
	}
}

func TestOnlyGuard(t *testing.T) {
	for _, c := range []struct {
		st   tableState
		want bool
	}{
		{tableState{chains: []string{ChainName}, sets: []string{SetName}, use: 2}, true},
		{tableState{sets: []string{SetName}, use: 1}, true},
		{tableState{chains: []string{ChainName, "forward"}, sets: []string{SetName}, use: 3}, false},
		{tableState{chains: []string{ChainName}, sets: []string{SetName, "ports"}, use: 3}, false},
		{tableState{chains: []string{ChainName}, sets: []string{SetName}, use: 3}, false}, // an object or flowtable
	} {
		if got := c.st.onlyGuard(); got != c.want {
			t.Errorf("onlyGuard(%+v) = %v, want %v", c.st, got, c.want)
		}
	}
	// The use count google/nftables v0.3.0 hands back: 2, big-endian,
	// decoded in host order.
	if got := tableUse(&nft.Table{Use: binaryutil.NativeEndian.Uint32(binaryutil.BigEndian.PutUint32(2))}); got != 2 {
		t.Errorf("tableUse = %d, want 2", got)
	}
}
