package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NetNSKey tells a network namespace from every other file, and names one
// namespace the same whichever path leads to it.
func TestNetNSKey(t *testing.T) {
	self, err := NetNSKey("/proc/self/ns/net")
	if err != nil || !strings.HasPrefix(self, "ns-") {
		t.Fatalf("NetNSKey(/proc/self/ns/net) = %q, %v", self, err)
	}
	if byPid, err := NetNSKey(fmt.Sprintf("/proc/%d/ns/net", os.Getpid())); err != nil || byPid != self {
		t.Errorf("NetNSKey by pid = %q, %v; want %q", byPid, err, self)
	}
	regular := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{regular, t.TempDir(), "/proc/self/ns/mnt"} {
		if _, err := NetNSKey(p); !errors.Is(err, ErrNotNetNS) || !strings.Contains(err.Error(), p) {
			t.Errorf("NetNSKey(%q) = %v, want ErrNotNetNS naming the path", p, err)
		}
	}
	missing := filepath.Join(t.TempDir(), "nothing")
	if _, err := NetNSKey(missing); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNotNetNS) {
		t.Errorf("NetNSKey(missing) = %v, want fs.ErrNotExist", err)
	}
}
