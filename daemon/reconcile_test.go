package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/veth"
)

// fakeModel is the state directory and the kernel as the reconciler sees
// them: what is broken, and the repairs asked for.
type fakeModel struct {
	mu       sync.Mutex
	nets     []*network.Network
	broken   map[string]error // network -> what CheckNetworks says
	eps      []*network.Endpoint
	health   map[string]network.Health // endpoint id -> its health
	fixErr   error                     // what every repair returns
	whole    bool                      // every repair finds nothing to do
	calls    []string
	watchErr error
}

func (f *fakeModel) call(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.fixErr
}

func (f *fakeModel) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeModel) List() ([]*network.Network, error) { return f.nets, nil }
func (f *fakeModel) CheckNetworks(nets []*network.Network) map[string]error {
	return f.broken
}
func (f *fakeModel) RepairNetwork(name string) (bool, error) {
	return !f.whole, f.call("restore " + name)
}
func (f *fakeModel) EndpointsHealth(string) ([]*network.Endpoint, []network.Health, error) {
	var hs []network.Health
	for _, ep := range f.eps {
		hs = append(hs, f.health[ep.ID])
	}
	return f.eps, hs, nil
}
func (f *fakeModel) RepairEndpoint(_ context.Context, ep *network.Endpoint) (bool, error) {
	return true, f.call("repair " + ep.ID)
}
func (f *fakeModel) RestoreRules() (network.RulesRestored, error) {
	return network.RulesRestored{Networks: len(f.nets), Endpoints: 1, Changed: !f.whole}, f.call("rules")
}
func (f *fakeModel) MarkStale(ep *network.Endpoint, _ time.Time) (bool, error) {
	return true, f.call("mark " + ep.ID)
}
func (f *fakeModel) ExpireStale(_ context.Context, ep *network.Endpoint, _ time.Duration, _ time.Time) (bool, error) {
	return true, f.call("expire " + ep.ID)
}
func (f *fakeModel) StrayHolds(map[string]bool) ([]network.StrayHold, error) { return nil, nil }
func (f *fakeModel) ReleaseStrayHold(network.StrayHold) error                { return nil }
func (f *fakeModel) WatchStore(ctx context.Context, _ func()) error {
	<-ctx.Done()
	return nil
}
func (f *fakeModel) WatchFirewall(ctx context.Context, changed func()) error {
	if f.watchErr != nil {
		return f.watchErr
	}
	<-ctx.Done()
	return nil
}

// logs collects the reconciler's lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newTestReconciler(f *fakeModel) (*reconciler, *logs, *int) {
	l := &logs{}
	resyncs := new(int)
	r := newReconciler(f, parts{resync: func() { *resyncs++ }, sweep: func() {}, held: func() map[string]bool { return nil }, syncDue: func() bool { return false }, ours: func() bool { return true }}, 10*time.Minute, time.Hour, l.printf)
	return r, l, resyncs
}

func endpointOn(net, id string) *network.Endpoint {
	return &network.Endpoint{ID: id, Network: net, Target: "netns:" + id, IP: netip.MustParsePrefix("10.0.0.2/24")}
}

func TestPassRepairsByWhatIsMissing(t *testing.T) {
	stale := endpointOn("n", "stale")
	expired := endpointOn("n", "expired")
	expired.StaleSince = time.Now().Add(-time.Hour)
	f := &fakeModel{
		nets:   []*network.Network{{Name: "n", Bridge: "pb-n"}, {Name: "whole", Bridge: "pb-w"}},
		broken: map[string]error{"n": errors.New(`bridge "pb-n" does not exist`)},
		eps: []*network.Endpoint{endpointOn("n", "up"), endpointOn("n", "links"), endpointOn("n", "ports"),
			endpointOn("n", "names"), endpointOn("n", "onnet"), endpointOn("n", "down"), stale, expired},
		health: map[string]network.Health{
			"up":      {State: network.StateUp},
			"links":   {State: network.StateBroken, Reason: "missing: veth x", Damage: network.DamageLinks | network.DamagePorts},
			"ports":   {State: network.StateBroken, Reason: "missing: published port rules", Damage: network.DamagePorts},
			"names":   {State: network.StateBroken, Reason: "missing: 127.0.0.11 listener", Damage: network.DamageNames},
			"onnet":   {State: network.StateBroken, Reason: "missing: bridge pb-n", Damage: network.DamageNetwork | network.DamageLinks},
			"down":    {State: network.StateDown, Reason: "down: veth x", Damage: network.DamageLinks},
			"stale":   {State: network.StateStale, Reason: "namespace gone"},
			"expired": {State: network.StateStale, Reason: "namespace gone"},
		},
	}
	r, l, resyncs := newTestReconciler(f)
	r.pass(context.Background())
	// The firewall in one write first, then the bridge the fake still
	// finds broken, then the ports missing alone, in one write again.
	want := "rules,restore n,rules,repair links,repair down,mark stale,expire expired"
	if got := strings.Join(f.called(), ","); got != want {
		t.Errorf("repairs %s, want %s", got, want)
	}
	if *resyncs != 1 {
		t.Errorf("%d resyncs for a missing listener, want 1", *resyncs)
	}
	for _, w := range []string{"repaired network n (bridge \"pb-n\" does not exist)", "repaired endpoint netns:links on n (missing: veth x)", "repaired the firewall (published port rules of 1 endpoint): rules of 2 networks and ports of 1 endpoint restored in one write",
		"endpoint netns:stale on n: namespace gone: published ports let go, address 10.0.0.2 kept for 10m0s", "stale for 10m0s: detached"} {
		if !strings.Contains(l.all(), w) {
			t.Errorf("log lacks %q:\n%s", w, l.all())
		}
	}
	if strings.Contains(l.all(), "whole") || strings.Contains(l.all(), "netns:up") {
		t.Errorf("log speaks of what is whole:\n%s", l.all())
	}
}

func TestPassIsQuietAboutWhatWentAwayAndSaysWhatIsNotItsOwn(t *testing.T) {
	f := &fakeModel{nets: []*network.Network{{Name: "n"}}, broken: map[string]error{"n": errors.New("bridge gone")},
		fixErr: fmt.Errorf("network %q %w", "n", network.ErrNotFound)}
	r, l, _ := newTestReconciler(f)
	r.pass(context.Background())
	if l.all() != "" {
		t.Errorf("a network removed meanwhile was logged:\n%s", l.all())
	}
	f.fixErr = fmt.Errorf("interface %q %w and is not a bridge", "pb-n", network.ErrExists)
	r.pass(context.Background())
	if !strings.Contains(l.all(), "not repaired") || !strings.Contains(l.all(), "never touches what is not its own") {
		t.Errorf("a foreign link was not reported:\n%s", l.all())
	}
}

func TestChangedKicksOnlyForDrift(t *testing.T) {
	r, _, _ := newTestReconciler(&fakeModel{})
	n := &network.Network{Name: "n", ID: "abc", Bridge: "pb-n"}
	ep := endpointOn("n", "e")
	r.watchEndpoint(n, ep)
	hv := network.HostVethName(n, ep.ID)
	for _, tc := range []struct {
		c    veth.Change
		kick bool
	}{
		{veth.Change{Name: "pb-n", Gone: true}, true},
		{veth.Change{Name: "pb-n", Up: false}, true},
		{veth.Change{Name: "pb-n", Up: true}, false},
		{veth.Change{Name: hv, Gone: true}, true},
		{veth.Change{Name: hv, Up: false, MasterIndex: 7}, true},
		{veth.Change{Name: hv, Up: true, MasterIndex: 0}, true},
		{veth.Change{Name: hv, Up: true, MasterIndex: 7}, false},
		{veth.Change{Name: "eth0", Gone: true}, false},
		{veth.Change{Name: "pgone1", Gone: true}, false},
		{veth.Change{Index: 3, Addr: true, Gone: true}, true},
		{veth.Change{Index: 3, Addr: true}, false},
	} {
		select {
		case <-r.wake:
		default:
		}
		r.changed(tc.c)
		kicked := len(r.wake) == 1
		if kicked != tc.kick {
			t.Errorf("%+v: kicked %v, want %v", tc.c, kicked, tc.kick)
		}
	}
}

func TestRunPassesAtStartAndOnKickUntilCancelled(t *testing.T) {
	f := &fakeModel{nets: []*network.Network{{Name: "n"}}, broken: map[string]error{"n": errors.New("bridge gone")}}
	r, _, _ := newTestReconciler(f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	waitCalls(t, f, 1) // the boot restore
	r.kick()
	waitCalls(t, f, 2)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestWatchFirewallFallsBackToPolling(t *testing.T) {
	f := &fakeModel{watchErr: fmt.Errorf("iptables-legacy: %w", errors.ErrUnsupported)}
	r, l, _ := newTestReconciler(f)
	r.watchFirewall(context.Background(), 3*time.Second)
	if got := time.Duration(r.every.Load()); got != 3*time.Second {
		t.Errorf("period %s after an unsupported watch, want 3s", got)
	}
	if !strings.Contains(l.all(), "checking it every 3s") {
		t.Errorf("log: %s", l.all())
	}
}

// waitCalls polls until f has had at least n repairs.
func waitCalls(t *testing.T, f *fakeModel, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.called()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d repairs after 10s, want %d: %v", len(f.called()), n, f.called())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRepairsThatFindItWholeAreNoDrift: a network seen broken while its
// create was under way is whole once the repair holds the lock: no line,
// and no count towards the loop guard however often it happens.
func TestRepairsThatFindItWholeAreNoDrift(t *testing.T) {
	f := &fakeModel{nets: []*network.Network{{Name: "n"}}, broken: map[string]error{"n": errors.New("bridge gone")}, whole: true}
	r, l, _ := newTestReconciler(f)
	for range 20 {
		r.pass(context.Background())
	}
	if l.all() != "" {
		t.Errorf("repairs that changed nothing were logged:\n%s", l.all())
	}
	if !r.tries.allow("network n", time.Now()) || !r.tries.allow("the firewall", time.Now()) {
		t.Error("repairs that changed nothing count towards the loop guard")
	}
	if r.acted {
		t.Error("a pass that changed nothing asks for another")
	}
}
