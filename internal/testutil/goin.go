package testutil

import (
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// GoInNS runs fn on a new goroutine whose thread is in the named network
// namespace, for code that must be called there and then blocks (a
// watcher, a server), and returns fn's error on the channel. The thread is
// never unlocked, so the runtime discards it when fn returns, namespace
// and all: no other goroutine ever runs in the namespace by mistake. fn
// may start goroutines; they run in whatever namespace their thread is in.
func GoInNS(t testing.TB, name string, fn func() error) <-chan error {
	t.Helper()
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("opening netns %s: %v", name, err)
	}
	errc := make(chan error, 1)
	go func() {
		defer h.Close()
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return errc
}

// WaitFor polls cond every millisecond until it holds, failing the test
// after 10 s: how tests wait for something asynchronous without a fixed
// sleep.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10 s waiting for %s", what)
		}
	}
}
