package script

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestVarRuns: placeholders of Var become the variables' values when the
// script runs, wherever they stand: a plain word, part of one, inside
// single quotes in a Line, a file's path and data (both branches), a
// here-document. Text around them keeps its $, backslashes and quotes.
func TestVarRuns(t *testing.T) {
	dir := t.TempDir()
	var s Script
	s.Line(`id='a b$c'`)
	s.Line("n=7")
	s.Var("id", "PLACEHOLDER-ID")
	s.Var("n", "4242")
	s.Comment("endpoint PLACEHOLDER-ID")
	s.Cmd("mkdir", "-p", filepath.Join(dir, "d-PLACEHOLDER-ID"))
	s.File(filepath.Join(dir, "d-PLACEHOLDER-ID", "f"), []byte("id PLACEHOLDER-ID n 4242 $HOME \\ `x`\n"), 0o644)
	s.File(filepath.Join(dir, "raw"), []byte("it's PLACEHOLDER-ID"), 0o644)
	s.Line("printf '%s\\n' 'x PLACEHOLDER-ID y' >" + s.Quote(filepath.Join(dir, "line")))
	s.Append(filepath.Join(dir, "raw"), []byte("\nmore 4242\n"))
	out, err := exec.Command("sh", "-euc", s.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v: %s\nscript:\n%s", err, out, s.String())
	}
	for path, want := range map[string]string{
		"d-a b$c/f": "id a b$c n 7 $HOME \\ `x`\n",
		"raw":       "it's a b$c\nmore 7\n",
		"line":      "x a b$c y\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q\nscript:\n%s", path, b, err, want, s.String())
		}
	}
	if !strings.Contains(s.String(), "# endpoint $id\n") {
		t.Errorf("comment: %s", s.String())
	}
}
