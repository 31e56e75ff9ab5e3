package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// An older plumb killed while it created /etc/netns/NAME/hosts left
// .hosts.plumb-HEX there, which `ip netns exec NAME` binds over /etc and
// complains of on every run, and which detach and `network rm` kept. Both
// now remove it, and leave /etc/netns/NAME as they found it: gone.
func TestPrivilegedNetnsLeftovers(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "lo-a", "--subnet", "10.231.9.0/24")
	a := target(t)
	dir := filepath.Join("/etc/netns", a)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	leftover := filepath.Join(dir, ".hosts.plumb-0123456789ab")
	plant := func() {
		t.Helper()
		if err := os.WriteFile(leftover, []byte("127.0.0.1\tlocalhost\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	clean := func(after string) {
		t.Helper()
		if ents, err := os.ReadDir(dir); !os.IsNotExist(err) {
			t.Errorf("after %s, %s is still there (%v): %v", after, dir, err, ents)
		}
		if out, err := testutil.InNS(a, "true"); err != nil || out != "" {
			t.Errorf("after %s, ip netns exec %s true: %v\n%s", after, a, err, out)
		}
	}

	h.must("attach", "netns:"+a, "--net", "lo-a")
	plant()
	h.must("detach", "netns:"+a, "--net", "lo-a")
	clean("detach")

	h.must("attach", "netns:"+a, "--net", "lo-a")
	plant()
	h.must("network", "rm", "--force", "lo-a")
	clean("network rm --force")
}
