package iptables

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// watchIn runs w.Watch on a goroutine whose thread is in the named
// namespace until the test ends, and counts the calls of changed. The
// thread is never unlocked: the runtime discards it when Watch returns.
// The cleanup ends Watch and fails the test unless it returns nil.
func watchIn(t *testing.T, name string, w firewall.Watcher) *atomic.Int32 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	calls := new(atomic.Int32)
	errc := testutil.GoInNS(t, name, func() error { return w.Watch(ctx, func() { calls.Add(1) }) })
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	testutil.WaitFor(t, "Watch's first call", func() bool { return calls.Load() >= 1 })
	return calls
}

// runIn runs a command in the named namespace, failing the test if it fails.
func runIn(t *testing.T, name string, argv ...string) {
	t.Helper()
	if out, err := testutil.InNS(name, argv[0], argv[1:]...); err != nil {
		t.Fatalf("%q in %s: %v\n%s", argv, name, err, out)
	}
}

func TestPrivilegedWatchSeesEveryKindOfChange(t *testing.T) {
	name, fw, _ := setup(t)
	if !nftMode(t) {
		t.Skip("iptables is iptables-legacy: Watch is unsupported (TestPrivilegedWatchLegacy)")
	}
	a := testNet("a", "br-a", "10.1.0.0/24")
	cleanupNets(t, name, fw, a)
	inNS(t, name, func() error { return fw.EnsureNetwork(a) })
	calls := watchIn(t, name, fw)
	steps := []struct {
		what string
		do   func()
	}{
		{"iptables -F", func() { runIn(t, name, "iptables", "-F") }},
		{"iptables -X", func() { runIn(t, name, "iptables", "-X") }},
		{"iptables -t nat -F", func() { runIn(t, name, "iptables", "-t", "nat", "-F") }},
		{"iptables -t nat -X", func() { runIn(t, name, "iptables", "-t", "nat", "-X") }},
		{"EnsureNetwork (plumb's rules added)", func() { inNS(t, name, func() error { return fw.EnsureNetwork(a) }) }},
		{"AddPorts", func() {
			inNS(t, name, func() error { return fw.AddPorts(a, "ep1", []firewall.Port{testPorts()[0]}) })
		}},
		{"a foreign rule", func() { runIn(t, name, "iptables", "-A", "INPUT", "-j", "ACCEPT") }},
		{"nft flush ruleset", func() { runIn(t, name, "nft", "flush", "ruleset") }},
	}
	for _, s := range steps {
		before := calls.Load()
		s.do()
		testutil.WaitFor(t, "the call after "+s.what, func() bool { return calls.Load() > before })
	}
}

func TestPrivilegedWatchIgnoresOtherNamespaces(t *testing.T) {
	name, fw, _ := setup(t)
	if !nftMode(t) {
		t.Skip("iptables is iptables-legacy: Watch is unsupported (TestPrivilegedWatchLegacy)")
	}
	other := testutil.NewNetNS(t)
	calls := watchIn(t, name, fw)
	runIn(t, other, "iptables", "-A", "INPUT", "-j", "ACCEPT")
	runIn(t, other, "iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "ACCEPT")
	runIn(t, other, "nft", "flush", "ruleset")
	runIn(t, name, "iptables", "-A", "INPUT", "-j", "ACCEPT")
	testutil.WaitFor(t, "the call for this namespace's change", func() bool { return calls.Load() >= 2 })
	// The kernel queues a notification on the socket while the
	// transaction commits, before the command exits, in commit order: a
	// call for the other namespace's three changes would have come before
	// the one just seen, so the count is final already. The bounded wait
	// only gives a wrong implementation (one that read on another
	// socket, say) time to show itself.
	time.Sleep(200 * time.Millisecond)
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2: the first and this namespace's change", n)
	}
}

func TestPrivilegedWatchEndsWithContext(t *testing.T) {
	name, fw, _ := setup(t)
	if !nftMode(t) {
		t.Skip("iptables is iptables-legacy: Watch is unsupported (TestPrivilegedWatchLegacy)")
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	errc := testutil.GoInNS(t, name, func() error { return fw.Watch(ctx, func() { calls.Add(1) }) })
	testutil.WaitFor(t, "Watch's first call", func() bool { return calls.Load() == 1 })
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Watch after its context ended: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return within 10 s of its context's end")
	}
	testutil.WaitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
