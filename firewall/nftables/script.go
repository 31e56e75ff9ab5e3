package nftables

import (
	"fmt"
	"maps"
	"slices"

	"github.com/plumbnet/plumb/firewall"
)

// Emitter takes the commands of a dry run (package script's Script is one):
// Heredoc(body, args...) is `ARGS... <<'EOF'` body `EOF`.
type Emitter interface {
	Heredoc(body string, args ...string)
}

// ScriptGuard is the localnet guard of a dry run: it reads plumb's table
// once, as LocalnetGuard does, plans each change with LocalnetGuard's
// planner, and hands it to Out as one `nft -f - <<'EOF' ... EOF` block
// (the very plan rendered as nft text) instead of writing it. It applies
// each change to its copy of the table, from which its later plans and
// checks read: a dry run sees its own changes. It changes nothing and
// takes no lock. Use one ScriptGuard for a whole dry run.
type ScriptGuard struct {
	Out Emitter
	st  *tableState
}

var _ firewall.LocalnetGuard = (*ScriptGuard)(nil)

// EnsureLocalnetGuard hands out what LocalnetGuard.EnsureLocalnetGuard
// would write, nothing when the guard of bridge is in place.
func (g *ScriptGuard) EnsureLocalnetGuard(bridge string) error {
	st, err := g.state(bridge)
	if err != nil {
		return fmt.Errorf("ensuring the localnet guard of %q: %w", bridge, err)
	}
	g.emit(st, planEnsure(st, bridge))
	return nil
}

// DeleteLocalnetGuard hands out what LocalnetGuard.DeleteLocalnetGuard
// would write. It does not refuse while bridge has route_localnet on: the
// script deletes the bridge before it.
func (g *ScriptGuard) DeleteLocalnetGuard(bridge string) error {
	st, err := g.state(bridge)
	if err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: %w", bridge, err)
	}
	g.emit(st, planDelete(st, bridge))
	return nil
}

// CheckLocalnetGuard is LocalnetGuard's, against the table as the dry run
// has left it.
func (g *ScriptGuard) CheckLocalnetGuard(bridge string) error {
	st, err := g.state(bridge)
	if err != nil {
		return fmt.Errorf("checking the localnet guard of %q: %w", bridge, err)
	}
	return st.check(bridge)
}

// CheckLocalnetGuards is LocalnetGuard's, against the table as the dry
// run has left it.
func (g *ScriptGuard) CheckLocalnetGuards(bridges []string) (map[string]error, error) {
	st, err := g.state("")
	if err != nil {
		return nil, fmt.Errorf("checking the localnet guard: %w", err)
	}
	return st.checkAll(bridges), nil
}

// GuardedBridges is LocalnetGuard's, against the table as the dry run has
// left it.
func (g *ScriptGuard) GuardedBridges() ([]string, error) {
	st, err := g.state("")
	if err != nil {
		return nil, fmt.Errorf("listing the bridges the localnet guard holds: %w", err)
	}
	return slices.Sorted(maps.Keys(st.guarded)), nil
}

// state is the table as the dry run has left it, read on first use;
// bridge, unless "", is validated first.
func (g *ScriptGuard) state(bridge string) (*tableState, error) {
	if bridge != "" {
		if err := firewall.ValidateBridge(bridge); err != nil {
			return nil, err
		}
	}
	if g.st != nil {
		return g.st, nil
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	if g.st, err = readTable(c); err != nil {
		return nil, err
	}
	return g.st, nil
}

// emit hands ops to Out and applies them to st.
func (g *ScriptGuard) emit(st *tableState, ops []guardOp) {
	if body := render(ops); body != "" {
		g.Out.Heredoc(body, "nft", "-f", "-")
	}
	st.apply(ops)
}
