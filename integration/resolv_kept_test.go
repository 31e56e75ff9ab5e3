package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// An attach killed after it pointed a netns target's resolv.conf at
// 127.0.0.11 and before it kept the original (STATEDIR/targets/KEY.resolv.conf)
// leaves a file plumb made with no original to put back; one killed while
// it wrote the original leaves it empty. Detaching the target removes the
// file all the same: /etc/netns/NAME is gone, as it was before the attach.
func TestPrivilegedDetachWithoutKeptResolv(t *testing.T) {
	for _, c := range []struct {
		name string
		lose func(t *testing.T, kept string)
	}{
		{"removed", func(t *testing.T, kept string) { rm(t, kept) }},
		{"emptied", func(t *testing.T, kept string) { write(t, kept, "") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHost(t)
			h.must("network", "create", "kr", "--subnet", "10.232.74.0/24")
			x := target(t)
			t.Cleanup(func() { rm(t, filepath.Join("/etc/netns", x)) })
			h.must("attach", "netns:"+x, "--net", "kr")
			kept, _ := filepath.Glob(filepath.Join(h.state, "targets", "*.resolv.conf"))
			if len(kept) != 1 {
				t.Fatalf("kept originals: %v", kept)
			}
			c.lose(t, kept[0])
			h.must("detach", "netns:"+x)
			if ents, err := os.ReadDir(filepath.Join("/etc/netns", x)); err == nil {
				t.Fatalf("/etc/netns/%s after detach: %v\nresolv.conf:\n%q", x, ents, resolvOf(x))
			}
			if left, _ := filepath.Glob(filepath.Join(h.state, "targets", "*")); len(left) > 0 {
				t.Fatalf("kept originals after detach: %v", left)
			}
		})
	}
}
