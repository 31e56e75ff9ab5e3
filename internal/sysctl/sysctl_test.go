package sysctl

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeRoot points the package at a temporary /proc/sys for the test.
func fakeRoot(t *testing.T) string {
	old := root
	root = t.TempDir()
	t.Cleanup(func() { root = old })
	return root
}

func TestEnsure(t *testing.T) {
	dir := fakeRoot(t)
	p := filepath.Join(dir, "net/ipv4/ip_forward")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		value   string
		changed bool
	}{{"1", true}, {"1", false}, {"0", true}, {"0", false}}
	for _, s := range steps {
		changed, err := Ensure("net/ipv4/ip_forward", s.value)
		if err != nil || changed != s.changed {
			t.Fatalf("Ensure(%s) = %v, %v; want %v", s.value, changed, err, s.changed)
		}
		if b, _ := os.ReadFile(p); string(b) != s.value {
			t.Fatalf("file holds %q after Ensure(%s)", b, s.value)
		}
	}
	if _, err := Ensure("net/ipv4/missing", "1"); err == nil {
		t.Errorf("Ensure of a missing key: want an error")
	}
}
