package nftables

import (
	"errors"
	"slices"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

func TestPrivilegedGuardedBridges(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	g := newGuard(t)
	var none, two, one []string
	inNS(t, name, func() error {
		var err1, err2, err3 error
		none, err1 = g.GuardedBridges()
		if err := errors.Join(g.EnsureLocalnetGuard("br-b"), g.EnsureLocalnetGuard("br-a")); err != nil {
			return err
		}
		two, err2 = g.GuardedBridges()
		if err := g.DeleteLocalnetGuard("br-b"); err != nil {
			return err
		}
		one, err3 = g.GuardedBridges()
		return errors.Join(err1, err2, err3, g.DeleteLocalnetGuard("br-a"))
	})
	if len(none) != 0 || !slices.Equal(two, []string{"br-a", "br-b"}) || !slices.Equal(one, []string{"br-a"}) {
		t.Errorf("GuardedBridges: before any guard %q, with two %q, after deleting br-b %q", none, two, one)
	}
	if got := ruleset(t, name); got != "" {
		t.Errorf("ruleset after the test: %q", got)
	}
}
