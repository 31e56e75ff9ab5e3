package network

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A network directory renamed into place (a create) or removed (an rm) is
// heard; the end of ctx ends the watch with no error.
func TestWatchStoreHearsNetworksComeAndGo(t *testing.T) {
	m := &Manager{StateDir: t.TempDir()}
	if err := os.MkdirAll(m.networksDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	heard := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() { done <- m.WatchStore(ctx, func() { heard <- struct{}{} }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchStore after its context ended: %v", err)
		}
	})
	tmp := filepath.Join(m.StateDir, "tmp-n")
	// A rename before the watch is in place is missed: rename until one
	// is heard.
	wait := func(what string, act func()) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			act()
			select {
			case <-heard:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not heard", what)
			}
		}
	}
	wait("a network directory renamed into place", func() {
		os.RemoveAll(m.netDir("n"))
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, m.netDir("n")); err != nil {
			t.Fatal(err)
		}
	})
	for len(heard) > 0 {
		<-heard
	}
	wait("a network directory removed", func() { os.Remove(m.netDir("n")) })
}
