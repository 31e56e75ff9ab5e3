package lockfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAcquireExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := AcquireMode(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Lock)
	go func() {
		l2, err := Acquire(p) // a second open file: a second process, to flock
		if err != nil {
			t.Error(err)
		}
		got <- l2
	}()
	select {
	case <-got:
		t.Fatal("second Acquire returned while the first lock was held")
	case <-time.After(100 * time.Millisecond):
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case l2 := <-got:
		l2.Unlock()
	case <-time.After(10 * time.Second):
		t.Fatal("second Acquire still blocked after Unlock")
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
}

func TestAcquireModeCreatesWithPerm(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := AcquireMode(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("lock file mode %o, want 600", got)
	}
	if _, err := Acquire(filepath.Join(t.TempDir(), "missing", "lock")); err == nil {
		t.Errorf("Acquire in a missing directory: want an error")
	}
}
