package firewall

import (
	"context"
	"errors"
	"testing"
	"time"
)

// watchFake runs f.Watch until the test ends. Each call of changed is
// sent on calls and then waits for release, so that between two calls the
// test knows Watch's goroutine is parked and can read the pending wake-ups.
func watchFake(t *testing.T, f *Fake) (calls <-chan struct{}, release chan<- struct{}) {
	t.Helper()
	c, r := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Watch(ctx, func() {
			select {
			case c <- struct{}{}:
				<-r
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		close(r)
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	return c, r
}

func waitCall(t *testing.T, calls <-chan struct{}) {
	t.Helper()
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no call of changed within 10 s")
	}
}

// pending reports how many Watch calls have a wake-up waiting.
func pending(f *Fake) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for kick := range f.watchers {
		n += len(kick)
	}
	return n
}

func TestFakeWatch(t *testing.T) {
	f := NewFake()
	calls, release := watchFake(t, f)
	waitCall(t, calls) // the call when it starts
	n := testNet("a", "br-a", "10.1.0.0/24")
	steps := []struct {
		what    string
		do      func()
		changes bool
	}{
		{"EnsureNetwork", func() { mustOK(t, f.EnsureNetwork(n)) }, true},
		{"EnsureNetwork again", func() { mustOK(t, f.EnsureNetwork(n)) }, false},
		{"AddPorts", func() { mustOK(t, f.AddPorts(n, "ep1", []Port{testPort(8080, "10.1.0.2")})) }, true},
		{"DeletePorts", func() { mustOK(t, f.DeletePorts("a", "ep1")) }, true},
		{"DeletePorts again", func() { mustOK(t, f.DeletePorts("a", "ep1")) }, false},
		{"EnsureLocalnetGuard", func() { mustOK(t, f.EnsureLocalnetGuard("br-a")) }, true},
		{"CheckNetwork", func() { _ = f.CheckNetwork(n) }, false},
		{"Flush", f.Flush, true},
		{"DeleteNetwork of nothing", func() { mustOK(t, f.DeleteNetwork("a")) }, false},
		{"Changed", f.Changed, true},
	}
	// Watch's goroutine is parked in a call of changed during each step,
	// so the wake-up a step makes stays pending until released.
	for _, s := range steps {
		s.do()
		if got := pending(f) == 1; got != s.changes {
			t.Fatalf("after %s: a wake-up pending %v, want %v", s.what, got, s.changes)
		}
		if s.changes {
			release <- struct{}{}
			waitCall(t, calls)
		}
	}
	if f.String() != "" {
		t.Errorf("after Flush: %q", f.String())
	}
}

func TestFakeWatchUnsupported(t *testing.T) {
	f := NewFake()
	f.FailNext("Watch", errors.ErrUnsupported)
	if err := f.Watch(context.Background(), func() {}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Watch = %v, want ErrUnsupported", err)
	}
}
