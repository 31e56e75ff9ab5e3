package nftables

import (
	"context"
	"sync/atomic"
	"testing"

	nft "github.com/google/nftables"

	"github.com/plumbnet/plumb/internal/testutil"
)

// The guard's Watch calls changed for each change of the guard's table,
// and for anyone's change of any other table.
func TestPrivilegedGuardWatch(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	g := newGuard(t)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	errc := testutil.GoInNS(t, name, func() error { return g.Watch(ctx, func() { calls.Add(1) }) })
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	testutil.WaitFor(t, "Watch's first call", func() bool { return calls.Load() == 1 })
	steps := []struct {
		what string
		do   func() error
	}{
		{"EnsureLocalnetGuard", func() error { return g.EnsureLocalnetGuard("br-a") }},
		{"EnsureLocalnetGuard of one more bridge (one element)", func() error { return g.EnsureLocalnetGuard("br-b") }},
		{"an element deleted by hand", func() error {
			return flush(func(c *nft.Conn) {
				_ = c.SetDeleteElements(guardSet(), []nft.SetElement{{Key: ifnameKey("br-b")}})
			})
		}},
		{"iptables-nft's table", func() error {
			_, err := testutil.InNS(name, "iptables", "-A", "INPUT", "-j", "ACCEPT")
			return err
		}},
		{"nft flush ruleset", func() error { return flush(func(c *nft.Conn) { c.FlushRuleset() }) }},
	}
	for _, s := range steps {
		before := calls.Load()
		inNS(t, name, s.do)
		testutil.WaitFor(t, "the call after "+s.what, func() bool { return calls.Load() > before })
	}
}
