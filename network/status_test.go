package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHostVethName(t *testing.T) {
	n := &Network{ID: strings.Repeat("a", 64)}
	a, b := HostVethName(n, "x"), HostVethName(n, "y")
	if len(a) != 15 || a == b || !isHostVethName(a) || !isHostVethName(b) {
		t.Fatalf("HostVethName = %q, %q", a, b)
	}
	for _, ok := range []string{"veth0123456789a", "vethabcdefabcde"} {
		if !isHostVethName(ok) {
			t.Errorf("isHostVethName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"veth0123456789", "veth0123456789ab", "vethXYZ3456789a", "eth0", "pb-0123456789ab", "veth0123456789A"} {
		if isHostVethName(bad) {
			t.Errorf("isHostVethName(%q) = true", bad)
		}
	}
}

func TestWritableDir(t *testing.T) {
	dir := t.TempDir()
	if err := writableDir(filepath.Join(dir, "not", "yet")); err != nil {
		t.Fatalf("a missing dir under a writable one: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if err := writableDir(filepath.Join(f, "sub")); err == nil {
		t.Fatal("a path under a file is writable")
	}
}
