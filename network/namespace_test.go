package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// checkNetNS refuses every namespace path that is not another network
// namespace, with ErrNetNS and a message naming the path and the reason.
func TestCheckNetNS(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nothing")
	cases := []struct{ path, want string }{
		{"", "unusable network namespace: no namespace path given"},
		{missing, fmt.Sprintf("netns %q: unusable network namespace: no such file or directory", missing)},
		{regular, fmt.Sprintf("netns %q: unusable network namespace: not a network namespace file", regular)},
		{"/proc/self/ns/mnt", `netns "/proc/self/ns/mnt": unusable network namespace: not a network namespace file`},
		{"/proc/self/ns/net", `netns "/proc/self/ns/net": unusable network namespace: it is plumb's own namespace`},
	}
	for _, c := range cases {
		err := checkNetNS(c.path)
		if !errors.Is(err, ErrNetNS) || err.Error() != c.want {
			t.Errorf("checkNetNS(%q) = %v, want %q wrapping ErrNetNS", c.path, err, c.want)
		}
	}
}
