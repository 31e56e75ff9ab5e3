package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
	"github.com/plumbnet/plumb/sandbox"
)

// sbChaos is the world of the sandbox kill -9 test: the chaos machinery
// (a throwaway host namespace, the seeded draws, the calibrated delays,
// the fingerprint) with one network and a few sandbox names, whose holder
// containers the real dockerd runs.
type sbChaos struct {
	*chaos
	names []string
}

const (
	skNet    = "sk"
	skSubnet = "10.232.64.0/24"
	skGW     = "10.232.64.1"
)

// skPorts are the host ports `sandbox create -p` draws from: fewer than
// the names, so that some creates find their port taken and roll back.
var skPorts = []string{"8181", "8182"}

// TestPrivilegedKillSandbox is TestPrivilegedKillAnywhere for sandboxes:
// in a throwaway host namespace with one network, `plumb sandbox create
// NAME --net sk [-p PORT:80]` and `plumb sandbox rm NAME` on a few names,
// $PLUMB_CHAOS_SANDBOX_OPS times (30), each SIGKILLed after a random
// delay calibrated from uncut runs. Then `plumb doctor --fix`, and nothing
// is left: no link, address file, record, rule, hosts line or resolv.conf
// without its endpoint, in the host namespace or in a holder's, and no
// address held or recorded twice. doctor finds no problem; every sandbox
// is attached, its endpoints up and reaching the gateway, or, when a
// create or an rm was cut before the attach or after the detach, is a
// holder on no network that doctor names in a sandbox-detached note, and
// which `sandbox create` (the note's command) finishes. `sandbox rm` of
// every name leaves no holder container, no held port, and the host
// namespace as it was. The seed is logged; replay with PLUMB_CHAOS_SEED.
func TestPrivilegedKillSandbox(t *testing.T) {
	dockertest.Require(t)
	seed := chaosSeed(t)
	t.Logf("seed %d (replay: PLUMB_CHAOS_SEED=%d)", seed, seed)
	k := newSBChaos(t, seed)
	before, nftBefore := k.h.snapshot(), nftRuleset(t, k.h)
	withNet := k.calibrate()
	k.fp = k.fingerprint()
	outcomes := map[string]int{}
	for i := range opsFrom(t, "PLUMB_CHAOS_SANDBOX_OPS", 30) {
		op, fp := k.draw(), k.fp
		outcome, took := k.run(op)
		outcomes[op.kind+":"+outcome]++
		t.Logf("op %3d: %v: %s in %v", i, op, outcome, took.Round(100*time.Microsecond))
		if op.exit > 0 {
			t.Logf("        it failed: %s", strings.TrimSpace(op.out))
			k.refused(op)
		}
		for _, d := range k.duplicates() {
			t.Errorf("after op %d: address handed out twice: %s", i, d)
		}
		if outcome == "done" && k.fp != fp {
			// Followed as the chaos test does, but only by operations
			// that changed something: a create of a sandbox that is
			// there already, or an rm of one that is not, takes a few
			// ms, and would pull every later kill to the start.
			k.took[op.kind] = (3*k.took[op.kind] + took) / 4
		}
	}
	t.Logf("kills: %s", counts(outcomes))
	k.repair()
	l := k.leaks()
	t.Logf("left behind after doctor --fix (seed %d): %s", seed, l)
	for _, it := range l.items {
		t.Errorf("left behind: %s", it)
	}
	if out, err := k.h.run("doctor"); err != nil {
		t.Errorf("plumb doctor after --fix: %v\n%s", err, out)
	}
	k.checkSandboxes()
	k.removeAll(withNet, before, nftBefore)
}

func newSBChaos(t *testing.T, seed int64) *sbChaos {
	c := &chaos{t: t, h: newHost(t), rng: newRand(seed), took: map[string]time.Duration{}}
	mustSh(t, c.h, "ip", "link", "set", "lo", "up")
	k := &sbChaos{chaos: c}
	id := testutil.UniqueName("")
	for i := range 4 {
		k.names = append(k.names, fmt.Sprintf("plumb-sk-%s-%d", id, i))
	}
	// Registered after newHost's cleanup, so it runs first, even when the
	// test fails: the holders go, then the network.
	t.Cleanup(k.removeHolders)
	c.more = k.fingerprintHolders
	return k
}

// calibrate makes the network and times uncut creates and removals, for
// the kills' delays. The first create imports the holder image and starts
// the daemon, so it is left out of the timing, and the snapshot of the
// host with the network (withNet) is taken after it: what the one-time
// start made stays.
func (k *sbChaos) calibrate() (withNet string) {
	timed := func(args ...string) time.Duration {
		start := time.Now()
		k.h.must(args...)
		return time.Since(start)
	}
	k.h.must("network", "create", skNet, "--subnet", skSubnet)
	k.took["start"] = timed("network", "inspect", skNet)
	create := []string{"sandbox", "create", k.names[0], "--net", skNet, "-p", skPorts[0] + ":80"}
	timed(create...)
	timed("sandbox", "rm", k.names[0])
	withNet = k.h.snapshot()
	k.took["sb-create"] = timed(create...)
	k.took["sb-rm"] = timed("sandbox", "rm", k.names[0])
	k.t.Logf("uncut: %s", counts(k.took))
	return withNet
}

// draw picks the next operation: a create or an rm, half and half, most
// of the time of a name it changes something for (chaos.pick).
func (k *sbChaos) draw() *chaosOp {
	s := readState(k.t, k.h.state)
	held := map[string]bool{}
	for _, hd := range k.holders() {
		held[hd.Name] = true
	}
	var detached, present []string
	for _, n := range k.names {
		if s.recOf(n, "") == nil {
			detached = append(detached, n)
		}
		if held[n] || s.recOf(n, "") != nil {
			present = append(present, n)
		}
	}
	op := &chaosOp{kind: "sb-create"}
	if k.rng.Intn(2) == 0 {
		op.kind = "sb-rm"
	}
	// With every name attached a create removes one instead, and with
	// none there an rm creates one: most kills land in work to do.
	if op.kind == "sb-create" && len(detached) == 0 {
		op.kind = "sb-rm"
	} else if op.kind == "sb-rm" && len(present) == 0 {
		op.kind = "sb-create"
	}
	switch op.kind {
	case "sb-create":
		op.args = []string{"sandbox", "create", k.pick(detached, k.names), "--net", skNet}
		if k.rng.Intn(5) < 2 {
			op.args = append(op.args, "-p", skPorts[k.rng.Intn(len(skPorts))]+":80")
		}
	case "sb-rm":
		op.args = []string{"sandbox", "rm", k.pick(present, k.names)}
	}
	op.delay = k.delay(op.kind)
	return op
}

// leaks is countLeaks for the host namespace, what holders keep, and the
// host ports held for no endpoint.
func (k *sbChaos) leaks() *leaks {
	l := countLeaks(k.t, k.h, nil)
	s, hs := readState(k.t, k.h.state), k.holders()
	countHolderLeaks(l, s, hs)
	for _, d := range heldTwice(hs) {
		l.add("dup-addresses", "%s", d)
	}
	for _, p := range skPorts {
		if !publishes(s, p) && listenable(k.h.ns, p) != nil {
			l.add("held-ports", "host port %s, which no endpoint publishes", p)
		}
	}
	return l
}

// duplicates lists the addresses two holders hold, or two records name.
func (k *sbChaos) duplicates() []string {
	return append(heldTwice(k.holders()), recordedTwice(readState(k.t, k.h.state))...)
}

// checkSandboxes checks what `sandbox ls` lists: each sandbox is attached,
// or is named by doctor's sandbox-detached note, whose command then
// attaches it; then every endpoint is up and reaches the gateway.
func (k *sbChaos) checkSandboxes() {
	k.t.Helper()
	var sbs []sandbox.Sandbox
	if err := k.h.runJSON(&sbs, "sandbox", "ls", "--format", "json"); err != nil {
		k.t.Fatal(err)
	}
	fs, _ := k.h.doctor(false)
	for _, sb := range sbs {
		if len(sb.Endpoints) > 0 {
			continue
		}
		finish := "plumb sandbox create " + sb.Name + " --net " + skNet
		i := slices.IndexFunc(fs, func(f finding) bool {
			return f.Check == "sandbox-detached" && strings.Contains(f.Subject, sb.Name)
		})
		switch {
		case i < 0:
			k.t.Errorf("sandbox %s is on no network, and doctor does not say so: %s", sb.Name, summarize(fs))
		case fs[i].Severity != "note" || !strings.Contains(fs[i].Fix, finish) || !strings.Contains(fs[i].Fix, "plumb sandbox rm "+sb.Name):
			k.t.Errorf("doctor's finding on sandbox %s: %+v", sb.Name, fs[i])
		}
		k.t.Logf("sandbox %s (running %v) is on no network: finishing it", sb.Name, sb.Running)
		k.h.must(strings.Fields(finish)[1:]...)
	}
	var rows []psState
	if err := k.h.runJSON(&rows, "ps", "--format", "json"); err != nil {
		k.t.Fatal(err)
	}
	k.t.Logf("%d sandboxes, %d endpoints", len(sbs), len(rows))
	for _, r := range rows {
		if r.State != "up" {
			k.t.Errorf("endpoint %s on %s is %s: %s", r.Target, r.Network, r.State, r.Reason)
		} else if !pingFrom(r.NetNS, skGW) {
			k.t.Errorf("sandbox %s cannot reach its gateway %s", r.Target, skGW)
		}
	}
}

// removeAll removes every sandbox, then the network, and checks that
// nothing of theirs is left: no holder, no held port, the host as it was
// with the network, then as it was before it, and no state.
func (k *sbChaos) removeAll(withNet, before, nftBefore string) {
	k.t.Helper()
	k.h.must(append([]string{"sandbox", "rm"}, k.names...)...)
	for _, hd := range k.holders() {
		k.t.Errorf("holder container %s (%s) left after sandbox rm", hd.Name, hd.ID)
	}
	if after := k.h.snapshot(); after != withNet {
		k.t.Errorf("after removing every sandbox the host has:\n%s\nand had:\n%s", after, withNet)
	}
	k.portsFree()
	k.h.must("network", "rm", skNet)
	if after := k.h.snapshot(); after != before {
		k.t.Errorf("after removing the network the host has:\n%s\nand had:\n%s", after, before)
	}
	if nftAfter := nftRuleset(k.t, k.h); nftAfter != nftBefore {
		k.t.Errorf("after removing the network nft has:\n%s\nand had:\n%s", nftAfter, nftBefore)
	}
	if s := readState(k.t, k.h.state); len(s.nets)+len(s.odd)+len(s.recs) > 0 {
		k.t.Errorf("state left: networks %v, records %d, other %v", s.nets, len(s.recs), s.odd)
	}
}
