package iptables

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	goiptables "github.com/coreos/go-iptables/iptables"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// inNS runs fn with the calling thread in the named namespace. fn must not
// start goroutines; the iptables commands it execs run in the namespace.
func inNS(t testing.TB, name string, fn func() error) {
	t.Helper()
	if err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error { return fn() }); err != nil {
		t.Fatal(err)
	}
}

var counterRE = regexp.MustCompile(`\[\d+:\d+\]`)

// saveIn returns iptables-save of the namespace without comment lines and
// with the packet counters zeroed.
func saveIn(t *testing.T, name string) string {
	t.Helper()
	out, err := testutil.InNS(name, "iptables-save")
	if err != nil {
		t.Fatalf("iptables-save in %s: %v\n%s", name, err, out)
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			keep = append(keep, counterRE.ReplaceAllString(l, "[0:0]"))
		}
	}
	return strings.Join(keep, "\n")
}

// nftMode reports whether `iptables` is iptables-nft.
func nftMode(t testing.TB) bool {
	out, err := exec.Command("iptables", "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables --version: %v\n%s", err, out)
	}
	return strings.Contains(string(out), "nf_tables")
}

// checkSaveRestored fails unless after equals before. Under iptables-legacy
// a table that was absent before may stay behind, empty: a legacy table
// cannot be removed.
func checkSaveRestored(t *testing.T, before, after string) {
	t.Helper()
	if !nftMode(t) {
		b, _ := parseSave([]byte(before))
		a, _ := parseSave([]byte(after))
		for name, tb := range a.tables {
			if b.tables[name] == nil && len(tb.chains) == len(memBuiltins[name]) && emptyWithoutPlumb(tb) {
				after = regexp.MustCompile(`(?s)\*`+name+`\n.*?COMMIT\n?`).ReplaceAllString(after+"\n", "")
				after = strings.TrimSuffix(after, "\n")
			}
		}
	}
	if after != before {
		t.Errorf("iptables-save after the last DeleteNetwork:\n%s\nwant (before the first EnsureNetwork):\n%s", after, before)
	}
}

// countingRunner counts the restores of the real runner.
type countingRunner struct {
	runner
	restores int
}

func (c *countingRunner) restore(p []byte, noflush bool) error {
	c.restores++
	return c.runner.restore(p, noflush)
}

// setup makes a netns and a Firewall for it (locking a file of the test),
// and registers the removal of nets for cleanup, before the netns goes.
func setup(t *testing.T) (string, *Firewall, *countingRunner) {
	t.Helper()
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	fw, err := New(t.TempDir() + "/iptables.lock")
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingRunner{runner: fw.run}
	fw.run = cr
	return name, fw, cr
}

// cleanupNets deletes nets in the namespace at the end of the test.
func cleanupNets(t *testing.T, name string, fw *Firewall, nets ...firewall.Network) {
	t.Cleanup(func() {
		_ = ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error {
			for _, n := range nets {
				_ = fw.DeleteNetwork(n.Name)
			}
			return nil
		})
	})
}

// checkLive fails unless each rule of nets is in the namespace exactly once
// (by iptables-save) and is found by `iptables -C` (go-iptables Exists),
// and each jump exactly once, first in its chain.
func checkLive(t *testing.T, name string, nets ...firewall.Network) {
	t.Helper()
	s, err := parseSave([]byte(saveIn(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	ipt, err := goiptables.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		for _, r := range Rules(n) {
			c := s.tables[r.Table].chain(r.Chain)
			got := 0
			if c != nil {
				for _, have := range c.rules {
					if slices.Equal(have, r.Spec) {
						got++
					}
				}
			}
			if got != 1 {
				t.Errorf("%s: %d times in iptables-save, want 1", r, got)
			}
			var ok bool
			inNS(t, name, func() (err error) { ok, err = ipt.Exists(r.Table, r.Chain, r.Spec...); return err })
			if !ok {
				t.Errorf("%s: iptables -C does not find it", r)
			}
		}
	}
	for _, d := range skeleton {
		if d.parent == "" {
			continue
		}
		rules := s.tables[d.table].chain(d.parent).rules
		n := 0
		for _, r := range rules {
			if specValue(r, "-j") == d.name {
				n++
			}
		}
		if n != 1 || specValue(rules[0], "-j") != d.name {
			t.Errorf("jumps to %s in %s: %q, want exactly one, first", d.name, d.parent, rules)
		}
	}
}

func TestPrivilegedEnsureTwice(t *testing.T) {
	name, fw, cr := setup(t)
	a := testNet("a", "br-a", "10.1.0.0/24")
	cleanupNets(t, name, fw, a)

	inNS(t, name, func() error { return fw.EnsureNetwork(a) })
	if cr.restores != 1 {
		t.Errorf("first EnsureNetwork: %d restores, want 1", cr.restores)
	}
	inNS(t, name, func() error { return fw.EnsureNetwork(a) })
	// The rules read back from iptables-save equal Rules() token by token,
	// else this second call would rewrite them.
	if cr.restores != 1 {
		t.Errorf("second EnsureNetwork: %d restores in all, want still 1", cr.restores)
	}
	checkLive(t, name, a)
}

func TestPrivilegedDeleteRestoresSave(t *testing.T) {
	name, fw, _ := setup(t)
	a := testNet("a", "br-a", "10.1.0.0/24")
	b := testNet("b", "br-b", "10.2.0.0/24")
	b.Internal, b.ICC = true, false
	cleanupNets(t, name, fw, a, b)

	before := saveIn(t, name)
	inNS(t, name, func() error {
		if err := fw.EnsureNetwork(a); err != nil {
			return err
		}
		return fw.EnsureNetwork(b)
	})
	checkLive(t, name, a, b)

	inNS(t, name, func() error { return fw.DeleteNetwork(a.Name) })
	checkLive(t, name, b)
	if s := saveIn(t, name); strings.Contains(s, "plumb:a") {
		t.Errorf("rules of a left after deleting it:\n%s", s)
	}
	inNS(t, name, func() error { return fw.DeleteNetwork(a.Name) }) // already gone

	inNS(t, name, func() error { return fw.DeleteNetwork(b.Name) })
	checkSaveRestored(t, before, saveIn(t, name))
	if _, err := exec.LookPath("nft"); err == nil && nftMode(t) {
		if out, _ := testutil.InNS(name, "nft", "list", "ruleset"); strings.TrimSpace(out) != "" {
			t.Errorf("nft list ruleset after the last delete:\n%s\nwant empty", out)
		}
	}
}

// dockerSetup is what dockerd leaves in a namespace, in short: FORWARD
// policy DROP, its chains and jumps, docker0 rules and masquerade.
var dockerSetup = [][]string{
	{"-P", "FORWARD", "DROP"},
	{"-N", "DOCKER-USER"},
	{"-N", "DOCKER"},
	{"-N", "DOCKER-ISOLATION-STAGE-1"},
	{"-N", "DOCKER-ISOLATION-STAGE-2"},
	{"-A", "FORWARD", "-j", "DOCKER-USER"},
	{"-A", "FORWARD", "-j", "DOCKER-ISOLATION-STAGE-1"},
	{"-A", "FORWARD", "-o", "docker0", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
	{"-A", "FORWARD", "-o", "docker0", "-j", "DOCKER"},
	{"-A", "FORWARD", "-i", "docker0", "!", "-o", "docker0", "-j", "ACCEPT"},
	{"-A", "FORWARD", "-i", "docker0", "-o", "docker0", "-j", "ACCEPT"},
	{"-A", "DOCKER-USER", "-j", "RETURN"},
	{"-A", "DOCKER-ISOLATION-STAGE-1", "-i", "docker0", "!", "-o", "docker0", "-j", "DOCKER-ISOLATION-STAGE-2"},
	{"-A", "DOCKER-ISOLATION-STAGE-2", "-o", "docker0", "-j", "DROP"},
	{"-t", "nat", "-N", "DOCKER"},
	{"-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"},
	{"-t", "nat", "-A", "OUTPUT", "!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"},
	{"-t", "nat", "-A", "POSTROUTING", "-s", "172.17.0.0/16", "!", "-o", "docker0", "-j", "MASQUERADE"},
	{"-t", "nat", "-A", "DOCKER", "-i", "docker0", "-j", "RETURN"},
}

func TestPrivilegedBesideDocker(t *testing.T) {
	name, fw, _ := setup(t)
	for _, args := range dockerSetup {
		if out, err := testutil.InNS(name, "iptables", args...); err != nil {
			t.Fatalf("iptables %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	a := testNet("a", "br-a", "10.1.0.0/24")
	b := testNet("b", "br-b", "10.2.0.0/24")
	cleanupNets(t, name, fw, a, b)

	before := saveIn(t, name)
	inNS(t, name, func() error {
		if err := fw.EnsureNetwork(a); err != nil {
			return err
		}
		return fw.EnsureNetwork(b)
	})
	checkLive(t, name, a, b)
	mid := saveIn(t, name)
	for _, want := range []string{":FORWARD DROP [0:0]", "-A FORWARD -j DOCKER-USER", "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
		"-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"} {
		if !strings.Contains(mid, want+"\n") {
			t.Errorf("iptables-save with plumb's networks lacks %q:\n%s", want, mid)
		}
	}
	inNS(t, name, func() error {
		if err := fw.DeleteNetwork(b.Name); err != nil {
			return err
		}
		return fw.DeleteNetwork(a.Name)
	})
	checkSaveRestored(t, before, saveIn(t, name))
}

func TestPrivilegedEnsureRepairs(t *testing.T) {
	name, fw, _ := setup(t)
	a := testNet("a", "br-a", "10.1.0.0/24")
	cleanupNets(t, name, fw, a)
	before := saveIn(t, name)
	inNS(t, name, func() error { return fw.EnsureNetwork(a) })

	// Lose a rule; let dockerd (re)start and put its jump above plumb's.
	lost := Rules(a)[2]
	for _, args := range [][]string{
		append([]string{"-t", lost.Table, "-D", lost.Chain}, lost.Spec...),
		{"-N", "DOCKER-USER"},
		{"-I", "FORWARD", "1", "-j", "DOCKER-USER"},
	} {
		if out, err := testutil.InNS(name, "iptables", args...); err != nil {
			t.Fatalf("iptables %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	inNS(t, name, func() error { return fw.EnsureNetwork(a) })
	checkLive(t, name, a)

	// "dockerd" goes away again. The jump kept plumb's created-table mark
	// when it moved back to the top, so the last delete drops both tables.
	for _, args := range [][]string{{"-D", "FORWARD", "-j", "DOCKER-USER"}, {"-X", "DOCKER-USER"}} {
		if out, err := testutil.InNS(name, "iptables", args...); err != nil {
			t.Fatalf("iptables %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	inNS(t, name, func() error { return fw.DeleteNetwork(a.Name) })
	checkSaveRestored(t, before, saveIn(t, name))
}

func TestPrivilegedConcurrentEnsure(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	lock := t.TempDir() + "/iptables.lock"
	var fws []*Firewall
	for range 2 { // two plumb processes, one lock file
		fw, err := New(lock)
		if err != nil {
			t.Fatal(err)
		}
		fws = append(fws, fw)
	}
	var nets []firewall.Network
	for i := range 6 {
		nets = append(nets, testNet(fmt.Sprintf("n%d", i), fmt.Sprintf("br-%d", i), fmt.Sprintf("10.%d.0.0/24", i)))
	}
	cleanupNets(t, name, fws[0], nets...)
	before := saveIn(t, name)

	var wg sync.WaitGroup
	errs := make(chan error, len(nets))
	for i, n := range nets {
		// Each goroutine enters the namespace itself; none starts inside Do.
		wg.Go(func() {
			errs <- ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error { return fws[i%2].EnsureNetwork(n) })
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkLive(t, name, nets...)

	inNS(t, name, func() error {
		for i, n := range nets {
			if err := fws[i%2].DeleteNetwork(n.Name); err != nil {
				return err
			}
		}
		return nil
	})
	checkSaveRestored(t, before, saveIn(t, name))
}

func TestPrivilegedExistingEmptyTableStays(t *testing.T) {
	name, fw, _ := setup(t)
	// An empty nat table someone else left (a rule added, then deleted).
	for _, args := range [][]string{{"-t", "nat", "-A", "POSTROUTING", "-j", "ACCEPT"}, {"-t", "nat", "-D", "POSTROUTING", "-j", "ACCEPT"}} {
		if out, err := testutil.InNS(name, "iptables", args...); err != nil {
			t.Fatalf("iptables %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	a := testNet("a", "br-a", "10.1.0.0/24")
	cleanupNets(t, name, fw, a)
	before := saveIn(t, name)
	if !strings.Contains(before, "*nat") {
		t.Fatalf("setup: no nat table:\n%s", before)
	}
	inNS(t, name, func() error { return fw.EnsureNetwork(a) })
	inNS(t, name, func() error { return fw.DeleteNetwork(a.Name) })
	checkSaveRestored(t, before, saveIn(t, name))
}

// racingRunner runs race after each save: another writer changing the
// ruleset between plumb's read and its write.
type racingRunner struct {
	runner
	race    func()
	applied int
}

func (r *racingRunner) apply(o op) error {
	r.applied++
	return r.runner.apply(o)
}

func (r *racingRunner) save() ([]byte, error) {
	out, err := r.runner.save()
	if r.race != nil {
		r.race()
		r.race = nil
	}
	return out, err
}

func TestPrivilegedDeleteFallsBackWhenARuleVanished(t *testing.T) {
	name, fw, _ := setup(t)
	a := testNet("a", "br-a", "10.1.0.0/24")
	b := testNet("b", "br-b", "10.2.0.0/24")
	cleanupNets(t, name, fw, a, b)
	before := saveIn(t, name)
	inNS(t, name, func() error {
		if err := fw.EnsureNetwork(a); err != nil {
			return err
		}
		return fw.EnsureNetwork(b)
	})

	// Between DeleteNetwork's read and its write, a's masquerade rule goes:
	// the batched -D fails, the one-by-one fallback finishes the job.
	gone := Rules(a)[len(Rules(a))-1]
	rr := &racingRunner{runner: fw.run, race: func() {
		args := append([]string{"-t", gone.Table, "-D", gone.Chain}, gone.Spec...)
		if out, err := testutil.InNS(name, "iptables", args...); err != nil {
			t.Errorf("iptables %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}}
	fw.run = rr
	inNS(t, name, func() error { return fw.DeleteNetwork(a.Name) })
	if rr.applied == 0 {
		t.Errorf("the batched delete did not fail over to single commands")
	}
	checkLive(t, name, b)
	if s := saveIn(t, name); strings.Contains(s, "plumb:a") {
		t.Errorf("rules of a left after the fallback:\n%s", s)
	}
	inNS(t, name, func() error { return fw.DeleteNetwork(b.Name) })
	checkSaveRestored(t, before, saveIn(t, name))
}
