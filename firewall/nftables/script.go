package nftables

import (
	"fmt"
	"strings"

	"github.com/plumbnet/plumb/firewall"
)

// Emitter takes the commands of a dry run (package script's Script is one):
// Heredoc(body, args...) is `ARGS... <<'EOF'` body `EOF`.
type Emitter interface {
	Heredoc(body string, args ...string)
}

// ScriptGuard is the localnet guard of a dry run: it reads plumb's table as
// LocalnetGuard does, plans the same changes, and hands them to Out as one
// `nft -f - <<'EOF' ... EOF` block instead of writing them. It changes
// nothing and takes no lock; a change it hands out is not seen by its next
// read. Its checks are LocalnetGuard's.
type ScriptGuard struct {
	LocalnetGuard
	Out Emitter
}

var _ firewall.LocalnetGuard = (*ScriptGuard)(nil)

// EnsureLocalnetGuard hands out what LocalnetGuard.EnsureLocalnetGuard
// would write, nothing when the guard of bridge is in place.
func (g *ScriptGuard) EnsureLocalnetGuard(bridge string) error {
	st, err := g.read(bridge)
	if err != nil {
		return fmt.Errorf("ensuring the localnet guard of %q: %w", bridge, err)
	}
	var b strings.Builder
	elem := fmt.Sprintf("add element inet %s %s { %q }\n", TableName, SetName, bridge)
	if len(st.structureProblems()) == 0 {
		if !st.guarded[bridge] {
			b.WriteString(elem)
		}
	} else {
		fmt.Fprintf(&b, "add table inet %s\n", TableName)
		fmt.Fprintf(&b, "add set inet %s %s { type ifname; }\n", TableName, SetName)
		if st.hasChain && !st.chainHooked() {
			fmt.Fprintf(&b, "delete chain inet %s %s\n", TableName, ChainName)
		}
		fmt.Fprintf(&b, "add chain inet %s %s { type filter hook input priority filter; policy accept; }\n", TableName, ChainName)
		fmt.Fprintf(&b, "flush chain inet %s %s\n", TableName, ChainName)
		for _, r := range guardRuleTexts {
			fmt.Fprintf(&b, "add rule inet %s %s %s comment %q\n", TableName, ChainName, r, ruleComment)
		}
		b.WriteString(elem)
	}
	g.emit(b.String())
	return nil
}

// guardRuleTexts are guardRules as nft reads them.
var guardRuleTexts = []string{
	"iifname @" + SetName + " ip daddr 127.0.0.0/8 ct state invalid,untracked counter drop",
	"iifname @" + SetName + " ip daddr 127.0.0.0/8 ct state new ct status ! dnat counter drop",
}

// DeleteLocalnetGuard hands out what LocalnetGuard.DeleteLocalnetGuard
// would write. It does not refuse while bridge has route_localnet on: the
// script deletes the bridge before it.
func (g *ScriptGuard) DeleteLocalnetGuard(bridge string) error {
	st, err := g.read(bridge)
	if err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: %w", bridge, err)
	}
	if !st.exists {
		return nil
	}
	var b strings.Builder
	if st.guarded[bridge] {
		fmt.Fprintf(&b, "delete element inet %s %s { %q }\n", TableName, SetName, bridge)
	}
	delete(st.guarded, bridge)
	switch {
	case len(st.guarded) > 0:
	case st.onlyGuard():
		fmt.Fprintf(&b, "delete table inet %s\n", TableName)
	default:
		if st.hasChain {
			fmt.Fprintf(&b, "delete chain inet %s %s\n", TableName, ChainName)
		}
		if st.hasSet {
			fmt.Fprintf(&b, "delete set inet %s %s\n", TableName, SetName)
		}
	}
	g.emit(b.String())
	return nil
}

func (g *ScriptGuard) read(bridge string) (*tableState, error) {
	if err := firewall.ValidateBridge(bridge); err != nil {
		return nil, err
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	return readTable(c)
}

func (g *ScriptGuard) emit(body string) {
	if body != "" {
		g.Out.Heredoc(body, "nft", "-f", "-")
	}
}
