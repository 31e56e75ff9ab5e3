package lockfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// flock locks belong to an open file description, so two opens of the same
// path in one process exclude each other as two processes would.

func TestTryAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := TryAcquire(path); l != nil || err != nil {
		l.Unlock()
		t.Fatalf("TryAcquire of a held lock: %v %v, want nil, nil", l, err)
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	l, err := TryAcquire(path)
	if l == nil || err != nil {
		t.Fatalf("TryAcquire of a free lock: %v %v", l, err)
	}
	defer l.Unlock()
	if again, err := TryAcquire(path); again != nil || err != nil {
		again.Unlock()
		t.Fatalf("TryAcquire while TryAcquire holds it: %v %v", again, err)
	}
}

func TestTryAcquireMissingDir(t *testing.T) {
	l, err := TryAcquire(filepath.Join(t.TempDir(), "no", "lock"))
	if l != nil || err == nil {
		t.Fatalf("TryAcquire in a missing directory: %v %v, want an error", l, err)
	}
}

func TestAcquireWaitsForUnlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(path)
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Acquire returned while the lock was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if err := held.Unlock(); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	var none *Lock
	if err := none.Unlock(); err != nil {
		t.Fatalf("Unlock of nil: %v", err)
	}
}

func TestAcquireCreatesTheFile0600(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(p)
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

func TestCurrentUntilTheFileIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if !l.Current() {
		t.Fatal("a fresh lock is not current")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if l.Current() {
		t.Fatal("current after its file was removed")
	}
	other, err := Acquire(path) // made again: a second holder now gets in
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	if l.Current() || !other.Current() {
		t.Fatalf("after the file was made again: old %v, new %v; want false, true", l.Current(), other.Current())
	}
}
