package netnscookie

import (
	"testing"

	"github.com/vishvananda/netns"

	"github.com/plumbnet/plumb/internal/testutil"
)

func TestSelfIsStable(t *testing.T) {
	a, err := Self()
	if err != nil {
		t.Skipf("no SO_NETNS_COOKIE here: %v", err)
	}
	b, _ := OfPath("/proc/self/ns/net")
	if a == 0 || a != b {
		t.Fatalf("Self %d, OfPath(/proc/self/ns/net) %d", a, b)
	}
	if _, err := Of(netns.None()); err == nil {
		t.Fatal("cookie of a closed handle")
	}
}

// TestPrivilegedNeverReused: namespaces made and deleted in a row may get
// each other's inode, never each other's cookie.
func TestPrivilegedNeverReused(t *testing.T) {
	testutil.RequirePrivileged(t)
	self, _ := Self()
	seen := map[uint64]bool{self: true}
	for i := 0; i < 5; i++ {
		name := testutil.NewNetNS(t)
		c, err := OfPath("/var/run/netns/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c] {
			t.Fatalf("cookie %d seen twice", c)
		}
		seen[c] = true
		testutil.Run(t, "ip", "netns", "del", name)
	}
	if now, _ := Self(); now != self {
		t.Fatalf("our own cookie changed: %d, was %d", now, self)
	}
}
