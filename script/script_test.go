package script

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"eth0":             "eth0",
		"":                 "''",
		"a b":              "'a b'",
		"it's":             `'it'\''s'`,
		"/var/run/netns/x": "/var/run/netns/x",
		"{ \"pb-1\" }":     `'{ "pb-1" }'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestScriptRuns runs a script with every kind of line through sh and
// checks the files it wrote hold exactly the data.
func TestScriptRuns(t *testing.T) {
	dir := t.TempDir()
	var s Script
	s.Comment("a comment\nof two lines")
	s.Cmd("mkdir", "-p", filepath.Join(dir, "a b"))
	nl := "line one\nEOF\nit's $HOME `x`\n"
	s.File(filepath.Join(dir, "a b", "nl"), []byte(nl), 0o644)
	s.File(filepath.Join(dir, "raw"), []byte("no newline 'q' $x"), 0o600)
	s.Heredoc("hello\n", "tee", filepath.Join(dir, "tee"))
	out, err := exec.Command("sh", "-euc", s.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v: %s\nscript:\n%s", err, out, s.String())
	}
	for path, want := range map[string]string{"a b/nl": nl, "raw": "no newline 'q' $x", "tee": "hello\n"} {
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "raw")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("raw mode: %v %v", st, err)
	}
}
