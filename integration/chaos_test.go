package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// chaos is the world of the kill -9 test: a throwaway host namespace,
// its networks, the namespaces the CLI attaches and those CNI ADD does.
type chaos struct {
	t       *testing.T
	h       *host
	rng     *rand.Rand
	nets    []chaosNet // the last one is made by CNI ADD
	targets []string   // attached as netns:NAME
	cniNS   []string   // the namespace of CNI container chaos-ctr-I
	took    map[string]time.Duration
	fp      string // fingerprint after the last operation
	// more, when set, adds to the fingerprint what the host's links,
	// rules and state directory do not show (the sandbox test's holder
	// containers).
	more func(io.Writer)
}

// chaosOps is how many operations the test runs: $PLUMB_CHAOS_OPS, else 100.
func chaosOps(t *testing.T) int { return opsFrom(t, "PLUMB_CHAOS_OPS", 100) }

// opsFrom is the number in $env, else def.
func opsFrom(t *testing.T, env string, def int) int {
	n := def
	if s := os.Getenv(env); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatalf("%s=%q: %v", env, s, err)
		}
	}
	return n
}

// TestPrivilegedKillAnywhere runs randomized operations (network create
// and rm, attach with and without published ports, detach, CNI ADD and
// DEL, and kills of the daemon while they talk to it), each SIGKILLed
// after a random delay, then `plumb doctor --fix`. Counted with the
// test's own means (countLeaks), nothing is left: no link, address file,
// record, rule, hosts line or resolv.conf without its endpoint, and no
// address held twice. Then doctor finds nothing, every endpoint left is
// up and reaches its gateway, and removing every network leaves the host
// namespace as it was. Sandboxes have their own test beside this one,
// TestPrivilegedKillSandbox (it needs dockerd; plumb still runs in a
// throwaway host namespace). The seed is logged; replay with
// PLUMB_CHAOS_SEED (the delays are the same, the timing not quite).
func TestPrivilegedKillAnywhere(t *testing.T) {
	seed := chaosSeed(t)
	t.Logf("seed %d (replay: PLUMB_CHAOS_SEED=%d)", seed, seed)
	c := newChaos(t, seed)
	before, nftBefore := c.h.snapshot(), nftRuleset(t, c.h)
	c.calibrate()
	c.fp = c.fingerprint()
	outcomes, byKind := map[string]int{}, map[string]int{}
	for i := range chaosOps(t) {
		op := c.draw()
		outcome, took := c.run(op)
		outcomes[outcome]++
		byKind[op.kind+":"+outcome]++
		t.Logf("op %3d: %v: %s in %v", i, op, outcome, took.Round(100*time.Microsecond))
		// No address is ever handed out twice, not even before doctor.
		for _, d := range duplicates(readState(t, c.h.state), c.all()) {
			t.Errorf("after op %d: address handed out twice: %s", i, d)
		}
		if outcome == "done" && !op.daemon {
			// What an operation takes uncut drifts with the machine's
			// load: follow it, so that the kills keep landing inside.
			c.took[op.kind] = (3*c.took[op.kind] + took) / 4
		}
	}
	t.Logf("kills: %s (by kind: %s)", counts(outcomes), counts(byKind))
	c.repair()
	l := countLeaks(t, c.h, c.all())
	t.Logf("left behind after doctor --fix (seed %d): %s", seed, l)
	for _, it := range l.items {
		t.Errorf("left behind: %s", it)
	}
	if out, err := c.h.run("doctor"); err != nil {
		t.Errorf("plumb doctor after --fix: %v\n%s", err, out)
	}
	c.checkLive()
	c.removeAll(before, nftBefore)
}

func newChaos(t *testing.T, seed int64) *chaos {
	c := &chaos{t: t, h: newHost(t), rng: newRand(seed), took: map[string]time.Duration{}}
	c.nets = []chaosNet{{"k0", "10.232.60.0/24"}, {"k1", "10.232.61.0/24"}, {"kc", "10.232.62.0/24"}}
	mustSh(t, c.h, "ip", "link", "set", "lo", "up")
	for range 5 {
		c.targets = append(c.targets, target(t))
	}
	for range 3 {
		c.cniNS = append(c.cniNS, target(t))
	}
	for _, ns := range c.targets {
		t.Cleanup(func() { os.RemoveAll(filepath.Join("/etc/netns", ns)) })
	}
	return c
}

// all is every namespace the test attaches.
func (c *chaos) all() []string { return append(append([]string(nil), c.targets...), c.cniNS...) }

// calibrate builds the starting world with operations left uncut, and
// times each kind of operation, for the kills' delays.
func (c *chaos) calibrate() {
	uncut := func(op *chaosOp) time.Duration {
		op.delay = time.Minute
		outcome, took := c.run(op)
		if outcome != "done" {
			c.t.Fatalf("calibrating with %v: %s", op, outcome)
		}
		return took
	}
	cli := func(args ...string) *chaosOp { return &chaosOp{args: args} }
	uncut(cli("network", "create", "k0", "--subnet", c.nets[0].subnet))
	c.took["start"] = uncut(cli("network", "inspect", "k0"))
	c.took["create"] = uncut(cli("network", "create", "k1", "--subnet", c.nets[1].subnet))
	uncut(cli("attach", "netns:"+c.targets[0], "--net", "k0", "-p", "8081:80")) // starts the daemon
	c.took["attach"] = uncut(cli("attach", "netns:"+c.targets[1], "--net", "k1"))
	c.took["detach"] = uncut(cli("detach", "netns:"+c.targets[1]))
	add := c.drawKind("cni-add")
	uncut(add) // makes the CNI network
	del := c.drawKind("cni-del")
	c.took["cni-del"] = uncut(del)
	c.took["cni-add"] = uncut(add)
	uncut(cli("network", "create", "kx", "--subnet", "10.232.69.0/24"))
	c.took["rm"] = uncut(cli("network", "rm", "kx"))
	c.t.Logf("uncut: %s", counts(c.took))
}

// repair runs `plumb doctor --fix` until `plumb doctor` finds no problem,
// at most three times: a repair may reveal what it hid (a network's
// records are read only once its directory is sound).
func (c *chaos) repair() {
	for pass := 1; pass <= 3; pass++ {
		var fs []finding
		err := c.h.runJSON(&fs, "doctor", "--fix", "--format", "json")
		c.t.Logf("doctor --fix pass %d (%v): %s", pass, err, summarize(fs))
		for _, f := range fs {
			if f.FixError != "" {
				c.t.Logf("  fix failed: %s: %s: %s", f.Check, f.Subject, f.FixError)
			}
		}
		if _, err := c.h.run("doctor"); err == nil {
			return
		}
	}
}

// checkLive checks that every endpoint left is up and reaches its gateway.
func (c *chaos) checkLive() {
	c.t.Helper()
	var rows []psState
	if err := c.h.runJSON(&rows, "ps", "--format", "json"); err != nil {
		c.t.Fatal(err)
	}
	s := readState(c.t, c.h.state)
	c.t.Logf("%d endpoints left", len(rows))
	for _, r := range rows {
		if r.State != "up" {
			c.t.Errorf("endpoint %s on %s is %s: %s", r.Target, r.Network, r.State, r.Reason)
			continue
		}
		n := s.nets[r.Network]
		if n == nil {
			c.t.Errorf("endpoint %s on %s: no readable network", r.Target, r.Network)
			continue
		}
		if ns := filepath.Base(r.NetNS); !pingSoon(ns, n.Gateway.String()) {
			c.t.Errorf("endpoint %s on %s cannot reach its gateway %s", r.Target, r.Network, n.Gateway)
		}
	}
}

// removeAll removes every network and checks the host namespace is what
// it was: links, iptables-save, nft ruleset, no /etc/netns file of a
// target, no state.
func (c *chaos) removeAll(before, nftBefore string) {
	c.t.Helper()
	ents, _ := os.ReadDir(filepath.Join(c.h.state, "networks"))
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			c.h.must("network", "rm", "--force", e.Name())
		}
	}
	after, nftAfter := c.h.snapshot(), nftRuleset(c.t, c.h)
	if after != before {
		c.t.Errorf("after removing every network the host has:\n%s\nand had:\n%s", after, before)
	}
	if nftAfter != nftBefore {
		c.t.Errorf("after removing every network nft has:\n%s\nand had:\n%s", nftAfter, nftBefore)
	}
	for _, ns := range c.all() {
		if ents, err := os.ReadDir(filepath.Join("/etc/netns", ns)); err == nil {
			c.t.Errorf("/etc/netns/%s is still there: %v\nhosts:\n%s\nresolv.conf:\n%s", ns, ents, hostsOf(ns), resolvOf(ns))
		}
	}
	if s := readState(c.t, c.h.state); len(s.nets)+len(s.odd)+len(s.recs) > 0 {
		c.t.Errorf("state left: networks %v, records %d, other %v", s.nets, len(s.recs), s.odd)
	}
}

// fingerprint sums up what an operation changes: the state directory's
// entries and sizes, the host's links (not the retired ones the daemon
// deletes in the background) and its rules.
func (c *chaos) fingerprint() string {
	h := sha256.New()
	filepath.WalkDir(c.h.state, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			info, _ := d.Info()
			if info != nil {
				fmt.Fprintf(h, "%s %d\n", p, info.Size())
			}
		}
		return nil
	})
	links, _ := c.h.sh("ip", "-o", "link", "show")
	for _, l := range strings.Split(links, "\n") {
		if f := strings.Fields(l); len(f) > 1 && !strings.HasPrefix(f[1], "pgone") {
			fmt.Fprintln(h, f[1])
		}
	}
	rules, _ := c.h.sh("iptables-save")
	for _, l := range strings.Split(rules, "\n") {
		if !strings.HasPrefix(l, "#") {
			fmt.Fprintln(h, strings.Split(l, " [")[0])
		}
	}
	if c.more != nil {
		c.more(h)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// psState is a row of `plumb ps --format json`: the endpoint and its state.
type psState struct {
	Target  string `json:"target"`
	Network string `json:"network"`
	NetNS   string `json:"netns"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

// pingSoon reports whether ns reaches ip within a few seconds.
func pingSoon(ns, ip string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if ping(ns, ip) {
			return true
		}
	}
	return false
}

// counts prints a map's entries sorted by key.
func counts[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}
