package iptables

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

// mustSave returns the fake's iptables-save output.
func mustSave(t *testing.T, f *fakeIPT) string {
	t.Helper()
	out, _ := f.save()
	f.saves--
	return string(out)
}

// rulesOf returns the rules of table/chain in the fake, as lines.
func rulesOf(f *fakeIPT, table, chain string) []string {
	t := f.tables[table]
	if t == nil || t.chain(chain) == nil {
		return nil
	}
	var out []string
	for _, r := range t.chain(chain).rules {
		out = append(out, joinSpec(r))
	}
	return out
}

// countRule counts the rules of r's chain equal to r.
func countRule(f *fakeIPT, r Rule) int {
	n := 0
	for _, l := range rulesOf(f, r.Table, r.Chain) {
		if l == joinSpec(r.Spec) {
			n++
		}
	}
	return n
}

// checkInstalled fails unless each rule of n is present exactly once, and
// each of plumb's jumps exactly once, first in its chain.
func checkInstalled(t *testing.T, f *fakeIPT, nets ...firewall.Network) {
	t.Helper()
	for _, n := range nets {
		for _, r := range Rules(n) {
			if c := countRule(f, r); c != 1 {
				t.Errorf("%s: present %d times, want 1", r, c)
			}
		}
	}
	for _, d := range skeleton {
		if d.parent == "" {
			continue
		}
		rules := rulesOf(f, d.table, d.parent)
		n := 0
		for _, l := range rules {
			if strings.HasSuffix(l, "-j "+d.name) {
				n++
			}
		}
		if n != 1 || !strings.HasSuffix(rules[0], "-j "+d.name) {
			t.Errorf("jump to %s in %s: %q, want exactly once, first", d.name, d.parent, rules)
		}
	}
}

const wantFreshPayload = `noflush:*filter
-N PLUMB-FORWARD
-N PLUMB-ISOLATION-1
-N PLUMB-ISOLATION-2
-N PLUMB-INPUT
-I FORWARD 1 -m comment --comment "plumb created-table" -j PLUMB-FORWARD
-I PLUMB-FORWARD 1 -m comment --comment plumb -j PLUMB-ISOLATION-1
-I INPUT 1 -m comment --comment "plumb created-table" -j PLUMB-INPUT
-A PLUMB-FORWARD -o br-a -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment plumb:a -j ACCEPT
-A PLUMB-FORWARD ! -i br-a -o br-a -m conntrack --ctstate DNAT -m comment --comment plumb:a -j ACCEPT
-A PLUMB-FORWARD -i br-a -o br-a -m comment --comment plumb:a -j ACCEPT
-A PLUMB-FORWARD -i br-a ! -o br-a -m comment --comment plumb:a -j ACCEPT
-A PLUMB-ISOLATION-1 -i br-a ! -o br-a -m comment --comment plumb:a -j PLUMB-ISOLATION-2
-A PLUMB-ISOLATION-2 -o br-a -m comment --comment plumb:a -j DROP
-A PLUMB-INPUT -d 127.0.0.0/8 -i br-a -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment plumb:a -j DROP
COMMIT
*nat
-N PLUMB-POSTROUTING
-N PLUMB-PREROUTING
-N PLUMB-OUTPUT
-I POSTROUTING 1 -m comment --comment "plumb created-table" -j PLUMB-POSTROUTING
-I PREROUTING 1 -m addrtype --dst-type LOCAL -m comment --comment "plumb created-table" -j PLUMB-PREROUTING
-I OUTPUT 1 -m addrtype --dst-type LOCAL -m comment --comment "plumb created-table" -j PLUMB-OUTPUT
-A PLUMB-POSTROUTING -s 10.1.0.0/24 ! -o br-a -m comment --comment plumb:a -j MASQUERADE
-A PLUMB-POSTROUTING -s 127.0.0.0/8 -o br-a -m comment --comment plumb:a -j MASQUERADE
-A PLUMB-POSTROUTING -s 10.1.0.0/24 -o br-a -m conntrack --ctstate DNAT -m comment --comment plumb:a -j MASQUERADE
COMMIT
`

func TestEnsureOnFreshHost(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")

	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if f.saves != 1 || len(f.payloads) != 1 {
		t.Fatalf("first EnsureNetwork: %d saves, %d restores; want 1 and 1", f.saves, len(f.payloads))
	}
	if f.payloads[0] != wantFreshPayload {
		t.Errorf("payload:\n%s\nwant:\n%s", f.payloads[0], wantFreshPayload)
	}
	checkInstalled(t, f, a)

	// Twice: one read, nothing written.
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if f.saves != 2 || len(f.payloads) != 1 {
		t.Errorf("second EnsureNetwork: %d saves, %d restores; want 2 and 1", f.saves, len(f.payloads))
	}
	checkInstalled(t, f, a)
}

func TestEnsureSecondNetworkAddsOnlyItsRules(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	for _, n := range []firewall.Network{a, b} {
		if err := fw.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	const want = `noflush:*filter
-A PLUMB-FORWARD -o br-b -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment plumb:b -j ACCEPT
-A PLUMB-FORWARD ! -i br-b -o br-b -m conntrack --ctstate DNAT -m comment --comment plumb:b -j ACCEPT
-A PLUMB-FORWARD -i br-b -o br-b -m comment --comment plumb:b -j ACCEPT
-A PLUMB-FORWARD -i br-b ! -o br-b -m comment --comment plumb:b -j ACCEPT
-A PLUMB-ISOLATION-1 -i br-b ! -o br-b -m comment --comment plumb:b -j PLUMB-ISOLATION-2
-A PLUMB-ISOLATION-2 -o br-b -m comment --comment plumb:b -j DROP
-A PLUMB-INPUT -d 127.0.0.0/8 -i br-b -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment plumb:b -j DROP
COMMIT
*nat
-A PLUMB-POSTROUTING -s 10.2.0.0/24 ! -o br-b -m comment --comment plumb:b -j MASQUERADE
-A PLUMB-POSTROUTING -s 127.0.0.0/8 -o br-b -m comment --comment plumb:b -j MASQUERADE
-A PLUMB-POSTROUTING -s 10.2.0.0/24 -o br-b -m conntrack --ctstate DNAT -m comment --comment plumb:b -j MASQUERADE
COMMIT
`
	if got := f.payloads[1]; got != want {
		t.Errorf("payload of the second network:\n%s\nwant:\n%s", got, want)
	}
	checkInstalled(t, f, a, b)
}

func TestDeleteLeavesOtherNetworksThenRemovesEverything(t *testing.T) {
	f := newFake()
	before := mustSave(t, f)
	fw := newFirewall(f, "")
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	b.Internal = true
	for _, n := range []firewall.Network{a, b} {
		if err := fw.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}

	if err := fw.DeleteNetwork("a"); err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules(a) {
		if c := countRule(f, r); c != 0 {
			t.Errorf("after deleting a: %s present %d times", r, c)
		}
	}
	checkInstalled(t, f, b)

	// Again: already gone is success, and writes nothing.
	n := len(f.payloads)
	if err := fw.DeleteNetwork(a.Name); err != nil {
		t.Fatal(err)
	}
	if len(f.payloads) != n {
		t.Errorf("deleting a deleted network wrote %q", f.payloads[n:])
	}

	if err := fw.DeleteNetwork(b.Name); err != nil {
		t.Fatal(err)
	}
	// The last network's tables, which plumb created and which hold only
	// its chains, are dropped whole, one restore each: there is no moment
	// at which a table is left empty of plumb's marks.
	got := f.payloads[len(f.payloads)-2:]
	if want := []string{"flush:*filter\nCOMMIT\n", "flush:*nat\nCOMMIT\n"}; !slices.Equal(got, want) {
		t.Errorf("last delete payloads:\n%q\nwant:\n%q", got, want)
	}
	if after := mustSave(t, f); after != before {
		t.Errorf("iptables-save after the last delete:\n%s\nwant:\n%s", after, before)
	}
}

// dockerRules is a dockerd-like ruleset: FORWARD policy DROP, DOCKER-USER
// jumped to first, docker0 rules, its masquerade.
var dockerRules = []string{
	"-P FORWARD DROP",
	"-N DOCKER-USER",
	"-N DOCKER",
	"-A FORWARD -j DOCKER-USER",
	"-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
	"-A FORWARD -o docker0 -j DOCKER",
	"-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
	"-A FORWARD -i docker0 -o docker0 -j ACCEPT",
	"-A DOCKER-USER -j RETURN",
	"-t nat -N DOCKER",
	"-t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
	"-t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
}

func TestBesideDocker(t *testing.T) {
	f := newFake()
	for _, c := range dockerRules {
		f.run(c)
	}
	before := mustSave(t, f)
	fw := newFirewall(f, "")
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	for _, n := range []firewall.Network{a, b} {
		if err := fw.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	checkInstalled(t, f, a, b)
	if fw := f.tables["filter"].chain("FORWARD"); fw.policy != "DROP" || len(fw.rules) != 6 {
		t.Errorf("FORWARD = %+v, want policy DROP and Docker's 5 rules after plumb's jump", fw)
	}
	// The tables existed: the jumps carry the plain comment.
	if got := rulesOf(f, "filter", "FORWARD")[0]; got != "-m comment --comment plumb -j PLUMB-FORWARD" {
		t.Errorf("FORWARD jump = %q", got)
	}
	for _, n := range []firewall.Network{b, a} {
		if err := fw.DeleteNetwork(n.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range f.payloads {
		if strings.HasPrefix(p, "flush:") {
			t.Errorf("a table was replaced beside Docker: %q", p)
		}
	}
	if after := mustSave(t, f); after != before {
		t.Errorf("iptables-save after deleting both networks:\n%s\nwant:\n%s", after, before)
	}
}

func TestEnsureRepairs(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	for _, n := range []firewall.Network{a, b} {
		if err := fw.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	// Lose a rule of a and the nat jump; let something take FORWARD's top
	// (dockerd restarting re-inserts its DOCKER-USER jump at 1); duplicate
	// the isolation jump.
	f.run("-D PLUMB-FORWARD " + joinSpec(Rules(a)[1].Spec))
	f.run(`-t nat -D POSTROUTING -m comment --comment "plumb created-table" -j PLUMB-POSTROUTING`)
	f.run("-N DOCKER-USER")
	f.run("-I FORWARD 1 -j DOCKER-USER")
	f.run("-A PLUMB-FORWARD -m comment --comment plumb -j PLUMB-ISOLATION-1")

	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, f, a, b)
	// The moved jump kept its mark; the lost one was re-made in an existing
	// table, so it is plain.
	if got := rulesOf(f, "filter", "FORWARD"); !slices.Equal(got, []string{`-m comment --comment "plumb created-table" -j PLUMB-FORWARD`, "-j DOCKER-USER"}) {
		t.Errorf("FORWARD = %q", got)
	}
	if got := rulesOf(f, "nat", "POSTROUTING"); !slices.Equal(got, []string{"-m comment --comment plumb -j PLUMB-POSTROUTING"}) {
		t.Errorf("POSTROUTING = %q", got)
	}
}

func TestEnsureReplacesChangedConfig(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	a.ICC, a.Internal = false, true
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range Rules(a) {
		if r.Chain == ChainForward {
			want = append(want, joinSpec(r.Spec))
		}
	}
	got := rulesOf(f, "filter", ChainForward)[1:] // after the isolation jump
	if !slices.Equal(got, want) {
		t.Errorf("PLUMB-FORWARD = %q, want %q", got, want)
	}
	if got := rulesOf(f, "nat", ChainPostrouting); len(got) != 0 {
		t.Errorf("PLUMB-POSTROUTING of an internal network = %q, want empty", got)
	}
}

func TestDeleteFallsBackToSingleCommands(t *testing.T) {
	f := newFake()
	before := mustSave(t, f)
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	f.failRestores = 1
	if err := fw.DeleteNetwork(a.Name); err != nil {
		t.Fatalf("DeleteNetwork with a failing batch: %v", err)
	}
	if len(f.applied) == 0 {
		t.Fatalf("no single command was run")
	}
	if after := mustSave(t, f); after != before {
		t.Errorf("iptables-save after the fallback:\n%s\nwant:\n%s", after, before)
	}
}

func TestDeleteReportsJoinedErrors(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	// A foreign jump into plumb's chain makes -X fail, batched or not.
	f.run("-A INPUT -j PLUMB-ISOLATION-2")
	err := fw.DeleteNetwork(a.Name)
	if err == nil || !strings.Contains(err.Error(), "failing") && !strings.Contains(err.Error(), "referenced") {
		t.Fatalf("DeleteNetwork = %v, want the batch and the -X errors", err)
	}
	// It kept going: everything else is gone.
	if got := rulesOf(f, "nat", "POSTROUTING"); len(got) != 0 {
		t.Errorf("POSTROUTING = %q, want empty", got)
	}
	if f.tables["filter"].chain(ChainForward) != nil {
		t.Errorf("PLUMB-FORWARD still exists")
	}
}

func TestTablesNotCreatedByPlumbStay(t *testing.T) {
	f := newFake()
	f.run("-t nat -A POSTROUTING -j ACCEPT")
	f.run("-t nat -D POSTROUTING -j ACCEPT") // an empty nat table exists
	before := mustSave(t, f)
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if err := fw.DeleteNetwork(a.Name); err != nil {
		t.Fatal(err)
	}
	if after := mustSave(t, f); after != before {
		t.Errorf("iptables-save:\n%s\nwant:\n%s", after, before)
	}
}

func TestLegacyTablesAreNotDropped(t *testing.T) {
	f := newFake()
	f.nft = false
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if err := fw.DeleteNetwork(a.Name); err != nil {
		t.Fatal(err)
	}
	for _, p := range f.payloads {
		if strings.HasPrefix(p, "flush:") {
			t.Errorf("legacy: a table was replaced: %q", p)
		}
	}
	for _, tname := range tables {
		tb := f.tables[tname]
		if tb == nil || len(tb.chains) != len(memBuiltins[tname]) {
			t.Errorf("legacy: table %s = %+v, want its empty built-in chains", tname, tb)
		}
	}
}

func TestDeleteUnknownOnEmptyHostWritesNothing(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	if err := fw.DeleteNetwork("nope"); err != nil {
		t.Fatal(err)
	}
	if len(f.payloads) != 0 {
		t.Errorf("payloads = %q, want none", f.payloads)
	}
}

func TestInvalidNetwork(t *testing.T) {
	fw := newFirewall(newFake(), "")
	if err := fw.EnsureNetwork(firewall.Network{Name: "a b", Bridge: "br0"}); err == nil {
		t.Errorf("EnsureNetwork of an invalid network: want an error")
	}
	if err := fw.DeleteNetwork(""); err == nil {
		t.Errorf("DeleteNetwork without a name: want an error")
	}
}

// lockedRunner serializes calls into a fake, so that the test below checks
// the plan-level exclusion and not the fake's memory safety.
type lockedRunner struct {
	mu sync.Mutex
	f  *fakeIPT
}

func (l *lockedRunner) save() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.save()
}

func (l *lockedRunner) restore(p []byte, noflush bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.restore(p, noflush)
}

func (l *lockedRunner) apply(o op) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.apply(o)
}

func TestConcurrentFirewallsShareTheLockFile(t *testing.T) {
	// Two Firewalls stand for two plumb processes; only the lock file ties
	// them together.
	f := newFake()
	r := &lockedRunner{f: f}
	lock := filepath.Join(t.TempDir(), "run", "iptables.lock")
	fws := []*Firewall{newFirewall(r, lock), newFirewall(r, lock)}
	var nets []firewall.Network
	for i := range 16 {
		nets = append(nets, testNet(fmt.Sprintf("n%d", i), fmt.Sprintf("br-%d", i), fmt.Sprintf("10.%d.0.0/24", i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(nets))
	for i, n := range nets {
		wg.Go(func() { errs <- fws[i%2].EnsureNetwork(n) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkInstalled(t, f, nets...)
}

func TestEnsureRetriesAFailedRestoreOnce(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	f.failRestores = 1
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatalf("EnsureNetwork with one failing restore: %v", err)
	}
	checkInstalled(t, f, a)

	b := testNet("b", "br-b", "10.2.0.0/24")
	f.failRestores = 2
	if err := fw.EnsureNetwork(b); err == nil || !strings.Contains(err.Error(), `network "b"`) {
		t.Errorf("EnsureNetwork with two failing restores = %v, want an error naming the network", err)
	}
}

func TestDeleteRemovesRulesAttachedToTheNetwork(t *testing.T) {
	// A later API (published ports) adds rules commented "plumb:NAME/...":
	// EnsureNetwork leaves them alone, DeleteNetwork removes them.
	f := newFake()
	fw := newFirewall(f, "")
	a, ab := testNet("a", "br-a", "10.1.0.0/24"), testNet("ab", "br-ab", "10.2.0.0/24")
	for _, n := range []firewall.Network{a, ab} {
		if err := fw.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	port := "-d 10.1.0.2/32 ! -i br-a -o br-a -p tcp -m tcp --dport 80 -m comment --comment plumb:a/tcp:80 -j ACCEPT"
	f.run("-A PLUMB-FORWARD " + port)
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	if got := rulesOf(f, "filter", ChainForward); !slices.Contains(got, port) {
		t.Fatalf("EnsureNetwork removed the port rule: %q", got)
	}
	if err := fw.DeleteNetwork(a.Name); err != nil {
		t.Fatal(err)
	}
	for _, l := range rulesOf(f, "filter", ChainForward) {
		if strings.Contains(l, "plumb:a ") || strings.Contains(l, "plumb:a/") {
			t.Errorf("left after deleting a: %q", l)
		}
	}
	checkInstalled(t, f, ab) // "ab" is not "a"
}
