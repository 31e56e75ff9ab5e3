package nat

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteSysctl(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ip_forward")
	if err := os.WriteFile(p, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		value   string
		changed bool
	}{{"1", true}, {"1", false}, {"0", true}, {"0", false}}
	for _, s := range steps {
		changed, err := writeSysctl(p, s.value)
		if err != nil || changed != s.changed {
			t.Fatalf("writeSysctl(%s) = %v, %v; want %v", s.value, changed, err, s.changed)
		}
		if b, _ := os.ReadFile(p); string(b) != s.value+"\n" {
			t.Fatalf("file holds %q after writeSysctl(%s)", b, s.value)
		}
	}
	if _, err := writeSysctl(filepath.Join(t.TempDir(), "missing"), "1"); err == nil {
		t.Errorf("writeSysctl of a missing file: want an error")
	}
}
