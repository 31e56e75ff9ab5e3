package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func unnamedOrSkip(t *testing.T, dir string) *Unnamed {
	t.Helper()
	u, err := CreateUnnamed(unix.AT_FDCWD, dir, 0o640)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("no unnamed files on the file system of %s", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	unnamedOrSkip(t, dir).Close()
	p := filepath.Join(dir, "f")
	if ok, err := CreateNew(unix.AT_FDCWD, p, []byte("one"), 0o640); !ok || err != nil {
		t.Fatalf("CreateNew: %v, %v", ok, err)
	}
	if ok, err := CreateNew(unix.AT_FDCWD, p, []byte("two"), 0o640); ok || err != nil {
		t.Fatalf("CreateNew over an existing file: %v, %v; want false, nil", ok, err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "one" {
		t.Errorf("content %q, %v; want the first one", b, err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, %v; want 0640", st.Mode(), err)
	}
}

// Until Link, nothing is in the directory; a file closed (or whose writer
// dies) before Link leaves nothing at all.
func TestUnnamedInvisibleUntilLinked(t *testing.T) {
	dir := t.TempDir()
	u := unnamedOrSkip(t, dir)
	if _, err := u.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("an unnamed file is visible: %v", ents)
	}
	u.Close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a closed unnamed file left %v", ents)
	}

	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u = unnamedOrSkip(t, dir)
	defer u.Close()
	u.Write([]byte("data"))
	if ok, err := u.Link(int(d.Fd()), "named"); !ok || err != nil {
		t.Fatalf("Link: %v, %v", ok, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "named")); err != nil || string(b) != "data" {
		t.Errorf("linked file: %q, %v", b, err)
	}
}
