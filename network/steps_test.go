package network

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

// What each step of an operation leaves when it is the last to succeed:
// the rollback tests below fail the step after it and expect none of it.
// A step added to an operation without a line here fails
// TestEveryStepIsTabled, so that no step escapes the rollback tests.
var stepEffects = map[string]map[string]string{
	"create": {
		"state":    "the network's directory and network.json",
		"guard":    "the bridge's localnet guard",
		"bridge":   "the bridge",
		"firewall": "the network's rules",
	},
	"attach": {
		"allocate":  "an address file",
		"ports":     "held host ports",
		"record":    "the endpoint record",
		"veth":      "the veth pair",
		"configure": "the peer's address and route",
		"publish":   "DNAT rules and hairpin",
		"hosts":     "the target's hosts lines",
		"resolv":    "the target's resolv.conf and its saved original",
		"dns":       "the names in the daemon",
	},
	"detach": {
		"retire":    "the pair down and renamed",
		"names":     "the names gone from the daemon",
		"reap":      "the pair deleted",
		"unpublish": "the DNAT rules and held ports gone",
		"unhosts":   "the hosts lines gone",
		"release":   "the address freed",
		"unrecord":  "the record gone",
		"unresolv":  "resolv.conf put back",
	},
}

func TestEveryStepIsTabled(t *testing.T) {
	for kind, table := range stepEffects {
		names := StepNames(kind)
		if len(names) != len(table) {
			t.Errorf("%s has steps %v; the table has %d", kind, names, len(table))
		}
		for _, n := range names {
			if table[n] == "" {
				t.Errorf("%s step %q is not in stepEffects: add what it leaves, and the rollback tests cover it", kind, n)
			}
		}
	}
}

// failAt makes the Manager's fault hook fail step (and only it).
func failAt(m *Manager, step string) {
	m.Fault = func(s string) error {
		if s == step {
			return errors.New("injected fault")
		}
		return nil
	}
}

func createOpts() CreateOptions {
	return CreateOptions{Name: "n1", Subnet: netip.MustParsePrefix("10.50.0.0/24"), ICC: false, Masquerade: true}
}

// TestCreateRollsBackAtEveryStep fails each step of network create in
// turn: none leaves anything behind.
func TestCreateRollsBackAtEveryStep(t *testing.T) {
	for _, step := range StepNames("create") {
		t.Run(step, func(t *testing.T) {
			w := newWorld(t)
			before := w.dump()
			failAt(w.m, step)
			if _, err := w.m.Create(createOpts()); err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("create failing at %s: %v", step, err)
			}
			if after := w.dump(); after != before {
				t.Fatalf("create failing at %s left:\n%s\nwas:\n%s", step, after, before)
			}
		})
	}
	w := newWorld(t)
	before := w.dump()
	if _, err := w.m.Create(createOpts()); err != nil {
		t.Fatal(err)
	}
	if w.dump() == before {
		t.Fatal("a create that succeeded changed nothing: the rollback checks above prove nothing")
	}
}

// attachOpts is an attach that makes every step do something: a
// published port, an alias, a --link to another endpoint.
func attachOpts() AttachOptions {
	return AttachOptions{Network: "n1", Aliases: []string{"web"}, Links: []string{"db:database"},
		Publish: []PortSpec{{HostPort: 8080, HostPortEnd: 8080, Port: 80, PortEnd: 80, Proto: "tcp"}}}
}

// attachWorld is a world with network n1 and endpoint db on it.
func attachWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	if _, err := w.m.Create(createOpts()); err != nil {
		t.Fatal(err)
	}
	w.target("db", 7)
	if _, _, err := w.m.Attach(context.Background(), "db", AttachOptions{Network: "n1"}); err != nil {
		t.Fatal(err)
	}
	w.target("web", 8)
	return w
}

// TestAttachRollsBackAtEveryStep fails each step of attach in turn: none
// leaves a link, an address, a rule, a record, a hosts line, a held port
// or a name behind.
func TestAttachRollsBackAtEveryStep(t *testing.T) {
	for _, step := range append([]string{"resolve"}, StepNames("attach")...) {
		t.Run(step, func(t *testing.T) {
			w := attachWorld(t)
			before := w.dump()
			failAt(w.m, step)
			if _, _, err := w.m.Attach(context.Background(), "web", attachOpts()); err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("attach failing at %s: %v", step, err)
			}
			if after := w.dump(); after != before {
				t.Fatalf("attach failing at %s left:\n%s\nwas:\n%s", step, after, before)
			}
		})
	}
}

// TestAttachThenDetachLeavesNothing: every step did something, and detach
// takes all of it away again.
func TestAttachThenDetachLeavesNothing(t *testing.T) {
	w := attachWorld(t)
	before := w.dump()
	ep, already, err := w.m.Attach(context.Background(), "web", attachOpts())
	if err != nil || already {
		t.Fatalf("attach: %v (already %v)", err, already)
	}
	after := w.dump()
	for _, want := range []string{ep.HostVeth, "8080", "names n1/" + ep.ID, "endpoints/" + ep.ID + ".json", "\tweb\t", "\tdatabase db\t", "127.0.0.11", ep.IP.Addr().String()} {
		if !strings.Contains(after, want) {
			t.Errorf("after attach, %q is missing from:\n%s", want, after)
		}
	}
	if _, _, err := w.m.Attach(context.Background(), "web", attachOpts()); err != nil {
		t.Fatal(err)
	}
	if w.dump() != after {
		t.Fatal("attaching an attached target changed something")
	}
	if _, err := w.m.Detach(context.Background(), "web", ""); err != nil {
		t.Fatal(err)
	}
	if got := w.dump(); got != before {
		t.Fatalf("detach left:\n%s\nwas:\n%s", got, before)
	}
	if _, err := w.m.Detach(context.Background(), "web", ""); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("second detach: %v, want ErrNotAttached", err)
	}
}

// TestDetachKeepsGoingAndCanBeRepeated fails each step of detach in turn:
// the others still run, the record stays for a second detach (which then
// finishes), and nothing is left at the end.
func TestDetachKeepsGoingAndCanBeRepeated(t *testing.T) {
	for _, step := range StepNames("detach") {
		t.Run(step, func(t *testing.T) {
			w := attachWorld(t)
			before := w.dump()
			if _, _, err := w.m.Attach(context.Background(), "web", attachOpts()); err != nil {
				t.Fatal(err)
			}
			failAt(w.m, step)
			if _, err := w.m.Detach(context.Background(), "web", ""); err == nil {
				t.Fatalf("detach failing at %s succeeded", step)
			}
			w.m.Fault = nil
			if _, err := w.m.Detach(context.Background(), "web", ""); err != nil && !errors.Is(err, ErrNotAttached) {
				t.Fatalf("detach after a failed one at %s: %v", step, err)
			}
			// A pair retired but not reaped is the daemon's to delete
			// (its sweep at start; doctor --fix): as it would.
			w.links.sweepRetired()
			if got := w.dump(); got != before {
				t.Fatalf("detach failing at %s, then repeated, left:\n%s\nwas:\n%s", step, got, before)
			}
		})
	}
}

// TestRemoveForceLeavesNothing: network rm --force of a network with
// endpoints takes everything away, the network's rules included.
func TestRemoveForceLeavesNothing(t *testing.T) {
	w := newWorld(t)
	w.target("web", 8)
	before := w.dump()
	if _, err := w.m.Create(createOpts()); err != nil {
		t.Fatal(err)
	}
	o := attachOpts()
	o.Links = nil
	if _, _, err := w.m.Attach(context.Background(), "web", o); err != nil {
		t.Fatal(err)
	}
	if err := w.m.Remove(context.Background(), "n1", false); !errors.Is(err, ErrInUse) {
		t.Fatalf("rm without --force of a network in use: %v", err)
	}
	if err := w.m.Remove(context.Background(), "n1", true); err != nil {
		t.Fatal(err)
	}
	if got := w.dump(); got != before {
		t.Fatalf("rm --force left:\n%s\nwas:\n%s", got, before)
	}
	if !slices.Equal(StepNames("nope"), nil) {
		t.Fatal("StepNames of an unknown operation")
	}
}

// TestReattachRepairsAHalfBuiltEndpoint (issue 13, defect 4): attaching an
// attached target again answers "already attached" only when the endpoint
// is whole; an attach killed half way (no hosts line, no resolv.conf, no
// names, no address) is made whole again, with the same address.
func TestReattachRepairsAHalfBuiltEndpoint(t *testing.T) {
	w := attachWorld(t)
	o := attachOpts()
	ep, _, err := w.m.Attach(context.Background(), "web", o)
	if err != nil {
		t.Fatal(err)
	}
	whole := w.dump()
	web := w.targets["web"]
	ns := w.links.nss[ep.NetNS]
	for name, breakIt := range map[string]func(){
		"hosts line":  func() { os.WriteFile(web.HostsFile.Path(), []byte("127.0.0.1 localhost\n"), 0o644) },
		"resolv.conf": func() { os.WriteFile(web.ResolvFile.Path(), []byte("nameserver 192.0.2.53\n"), 0o644) },
		"names":       func() { w.d.Down("n1", ep.ID) },
		"address":     func() { delete(ns.addrs, ep.IfName) },
	} {
		breakIt()
		got, already, err := w.m.Attach(context.Background(), "web", o)
		if err != nil || already || got.IP != ep.IP {
			t.Fatalf("re-attach with its %s missing: %+v already %v, %v", name, got, already, err)
		}
		if d := w.dump(); d != whole {
			t.Fatalf("re-attach with its %s missing left:\n%s\nwant:\n%s", name, d, whole)
		}
	}
	if _, already, err := w.m.Attach(context.Background(), "web", o); err != nil || !already {
		t.Fatalf("re-attach of a whole endpoint: already %v, %v", already, err)
	}
}
