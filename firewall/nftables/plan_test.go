package nftables

import (
	"strings"
	"testing"

	nft "github.com/google/nftables"
)

func emptyState() *tableState { return &tableState{guarded: map[string]bool{}} }

// TestRenderEnsure: the plan of a first guard, rendered, is the nft
// script EnsureLocalnetGuard's doc gives, rule texts made from the same
// definitions as the rules' expressions.
func TestRenderEnsure(t *testing.T) {
	want := `add table inet plumb
add set inet plumb localnet_bridges { type ifname; }
add chain inet plumb localnet_guard { type filter hook input priority filter; policy accept; }
flush chain inet plumb localnet_guard
add rule inet plumb localnet_guard iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state invalid,untracked counter drop comment "plumb: containers may not reach the host's loopback"
add rule inet plumb localnet_guard iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state new ct status ! dnat counter drop comment "plumb: containers may not reach the host's loopback"
add element inet plumb localnet_bridges { "pb-a" }
`
	if got := render(planEnsure(emptyState(), "pb-a")); got != want {
		t.Fatalf("render:\n%s\nwant\n%s", got, want)
	}
}

// TestPlanSeesItsChanges: a plan applied to the state it was made from
// leaves what the next plan must start from: a guard in place after an
// ensure, one element for the next bridge, the table deleted with the
// last one, and a chain with the wrong hook replaced.
func TestPlanSeesItsChanges(t *testing.T) {
	st := emptyState()
	step := func(ops []guardOp, want string) {
		t.Helper()
		if got := render(ops); got != want {
			t.Fatalf("render:\n%s\nwant\n%s", got, want)
		}
		st.apply(ops)
	}
	st.apply(planEnsure(st, "pb-a"))
	if err := st.check("pb-a"); err != nil {
		t.Fatalf("after ensure: %v", err)
	}
	step(planEnsure(st, "pb-a"), "")
	step(planEnsure(st, "pb-b"), "add element inet plumb localnet_bridges { \"pb-b\" }\n")
	step(planDelete(st, "pb-a"), "delete element inet plumb localnet_bridges { \"pb-a\" }\n")
	step(planDelete(st, "pb-b"), "delete element inet plumb localnet_bridges { \"pb-b\" }\ndelete table inet plumb\n")
	step(planDelete(st, "pb-b"), "")

	st = emptyState()
	st.apply([]guardOp{{kind: opAddTable}})
	st.hasChain, st.chain, st.chains, st.use = true, &nft.Chain{Name: ChainName, Table: plumbTable()}, []string{ChainName}, 1
	ops := planEnsure(st, "pb-a")
	if got := render(ops); !strings.Contains(got, "delete chain inet plumb localnet_guard\nadd chain") {
		t.Fatalf("an unhooked chain is not replaced:\n%s", got)
	}
	st.apply(ops)
	if err := st.check("pb-a"); err != nil {
		t.Fatalf("after repair: %v", err)
	}

	st.sets, st.use = append(st.sets, "other"), st.use+1 // not plumb's alone
	step(planDelete(st, "pb-a"), "delete element inet plumb localnet_bridges { \"pb-a\" }\n"+
		"delete chain inet plumb localnet_guard\ndelete set inet plumb localnet_bridges\n")
	if !st.exists || st.hasSet || st.hasChain {
		t.Fatalf("after delete: %+v", st)
	}
}
