package nat

import (
	"path/filepath"
	"testing"
	"time"
)

func TestFileLockExcludes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "lock")
	unlock, err := fileLock(p)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func())
	go func() {
		u, err := fileLock(p) // a second open file: a second process, to flock
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("second fileLock returned while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(10 * time.Second):
		t.Fatal("second fileLock still blocked after unlock")
	}
}
