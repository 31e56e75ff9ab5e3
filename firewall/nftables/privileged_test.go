package nftables

import (
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// inNS runs fn with the calling thread in the named namespace. fn must not
// start goroutines.
func inNS(t *testing.T, name string, fn func() error) {
	t.Helper()
	if err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error { return fn() }); err != nil {
		t.Fatal(err)
	}
}

var counterRE = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// ruleset is `nft list ruleset` in the namespace, counters zeroed. The
// nft CLI only reads here: plumb never runs it, and the tests change
// nftables through netlink as plumb does.
func ruleset(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft not found: install Debian's nftables package (lab/provision.sh does)")
	}
	out, err := testutil.InNS(name, "nft", "list", "ruleset")
	if err != nil {
		t.Fatalf("nft list ruleset in %s: %v\n%s", name, err, out)
	}
	return counterRE.ReplaceAllString(out, "counter packets 0 bytes 0")
}

// newGuard returns a guard with a lock file of the test's own.
func newGuard(t *testing.T) *LocalnetGuard {
	return NewLocalnetGuard(filepath.Join(t.TempDir(), "firewall.lock"))
}

// flush sends what fill queues on a connection in the current namespace,
// as one batch: how the tests tamper with tables, through netlink.
func flush(fill func(c *nft.Conn)) error {
	c, err := nft.New()
	if err != nil {
		return err
	}
	fill(c)
	return c.Flush()
}

func TestPrivilegedGuardLifecycle(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	before := ruleset(t, name)
	g := newGuard(t)
	inNS(t, name, func() error {
		return errors.Join(g.EnsureLocalnetGuard("br-b"), g.EnsureLocalnetGuard("br-a"), g.EnsureLocalnetGuard("br-a"))
	})
	got := ruleset(t, name)
	for _, want := range []string{
		"table inet plumb {",
		"set localnet_bridges {\n\t\ttype ifname\n\t\telements = { \"br-a\",\n\t\t\t     \"br-b\" }",
		"chain localnet_guard {\n\t\ttype filter hook input priority filter; policy accept;",
		`iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state invalid,untracked counter packets 0 bytes 0 drop comment "plumb: containers may not reach the host's loopback"`,
		`iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state new ct status ! dnat counter packets 0 bytes 0 drop comment`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("nft list ruleset lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "drop"); n != 2 {
		t.Errorf("%d rules after three ensures, want 2:\n%s", n, got)
	}
	// A sound guard gets an element only: the rules keep their handles.
	chain := func() string {
		out, err := testutil.InNS(name, "nft", "-a", "list", "chain", "inet", "plumb", "localnet_guard")
		if err != nil {
			t.Fatalf("nft -a list chain: %v\n%s", err, out)
		}
		return counterRE.ReplaceAllString(out, "")
	}
	handles := chain()
	inNS(t, name, func() error { return g.EnsureLocalnetGuard("br-c") })
	if again := chain(); again != handles {
		t.Errorf("EnsureLocalnetGuard of one more bridge rewrote the chain:\n%s\nwas:\n%s", again, handles)
	}
	inNS(t, name, func() error { return g.DeleteLocalnetGuard("br-c") })
	inNS(t, name, func() error {
		if err := errors.Join(g.CheckLocalnetGuard("br-a"), g.CheckLocalnetGuard("br-b")); err != nil {
			t.Errorf("CheckLocalnetGuard after Ensure: %v", err)
		}
		if err := g.CheckLocalnetGuard("br-c"); err == nil || !strings.Contains(err.Error(), `bridge "br-c" not in set localnet_bridges`) {
			t.Errorf("CheckLocalnetGuard of a bridge never guarded: %v", err)
		}
		if err := errors.Join(g.DeleteLocalnetGuard("br-a"), g.DeleteLocalnetGuard("br-a"), g.DeleteLocalnetGuard("br-c")); err != nil {
			t.Errorf("DeleteLocalnetGuard: %v", err)
		}
		if err := g.CheckLocalnetGuard("br-a"); err == nil {
			t.Error("CheckLocalnetGuard of a deleted guard passed")
		}
		if err := g.CheckLocalnetGuard("br-b"); err != nil {
			t.Errorf("CheckLocalnetGuard of the other bridge after a delete: %v", err)
		}
		return g.DeleteLocalnetGuard("br-b")
	})
	if after := ruleset(t, name); after != before {
		t.Errorf("nft list ruleset after the last DeleteLocalnetGuard:\n%s\nwant:\n%s", after, before)
	}
	inNS(t, name, func() error {
		if err := g.DeleteLocalnetGuard("br-b"); err != nil { // no table at all
			t.Errorf("DeleteLocalnetGuard with no table: %v", err)
		}
		if err := g.CheckLocalnetGuard("br-b"); err == nil || !strings.Contains(err.Error(), "table inet plumb missing") {
			t.Errorf("CheckLocalnetGuard with no table: %v", err)
		}
		return nil
	})
}

// TestPrivilegedGuardRepairs damages the guard in each way Check must see
// and Ensure must repair.
func TestPrivilegedGuardRepairs(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	g := newGuard(t)
	inNS(t, name, func() error { return g.EnsureLocalnetGuard("br-a") })
	good := ruleset(t, name)
	t.Cleanup(func() { inNS(t, name, func() error { return g.DeleteLocalnetGuard("br-a") }) })
	damage := []struct {
		what, want string
		fill       func(c *nft.Conn)
	}{
		{"rules flushed", "does not hold exactly", func(c *nft.Conn) { c.FlushChain(guardChain()) }},
		{"a rule added", "does not hold exactly", func(c *nft.Conn) {
			c.AddRule(&nft.Rule{Table: plumbTable(), Chain: guardChain(), Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}})
		}},
		{"element deleted", `bridge "br-a" not in set`, func(c *nft.Conn) {
			c.SetDeleteElements(guardSet(), []nft.SetElement{{Key: ifnameKey("br-a")}})
		}},
		{"chain deleted", "chain localnet_guard missing", func(c *nft.Conn) { c.DelChain(guardChain()) }},
		{"chain made a regular chain", "is not type filter hook input", func(c *nft.Conn) {
			c.DelChain(guardChain())
			c.AddChain(&nft.Chain{Name: ChainName, Table: plumbTable()})
		}},
		{"chain at another priority", "is not type filter hook input", func(c *nft.Conn) {
			c.DelChain(guardChain())
			ch := guardChain()
			ch.Priority = nft.ChainPriorityRef(10)
			c.AddChain(ch)
		}},
		{"table deleted", "table inet plumb missing", func(c *nft.Conn) { c.DelTable(plumbTable()) }},
	}
	for _, d := range damage {
		inNS(t, name, func() error {
			if err := flush(d.fill); err != nil {
				t.Fatalf("%s: %v", d.what, err)
			}
			if err := g.CheckLocalnetGuard("br-a"); err == nil || !strings.Contains(err.Error(), d.want) {
				t.Errorf("%s: CheckLocalnetGuard = %v, want %q", d.what, err, d.want)
			}
			if err := g.EnsureLocalnetGuard("br-a"); err != nil {
				t.Errorf("%s: EnsureLocalnetGuard: %v", d.what, err)
			}
			if err := g.CheckLocalnetGuard("br-a"); err != nil {
				t.Errorf("%s: CheckLocalnetGuard after the repair: %v", d.what, err)
			}
			return nil
		})
		if got := ruleset(t, name); got != good {
			t.Errorf("%s: after the repair:\n%s\nwant:\n%s", d.what, got, good)
		}
	}
}

// TestPrivilegedGuardCoexists: the guard leaves other tables and
// iptables-nft's rules alone, and leaves its table in place while
// something else (the nftables backend, later) still uses it.
func TestPrivilegedGuardCoexists(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	testutil.Run(t, "ip", "netns", "exec", name, "iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
	theirs := &nft.Table{Name: "theirs", Family: nft.TableFamilyINet}
	other := &nft.Chain{Name: "other", Table: plumbTable()}
	inNS(t, name, func() error {
		return flush(func(c *nft.Conn) {
			c.AddTable(theirs)
			c.AddChain(&nft.Chain{Name: "input", Table: theirs, Type: nft.ChainTypeFilter,
				Hooknum: nft.ChainHookInput, Priority: nft.ChainPriorityFilter})
		})
	})
	before := ruleset(t, name)
	g := newGuard(t)
	inNS(t, name, func() error {
		if err := g.EnsureLocalnetGuard("br-a"); err != nil {
			return err
		}
		return flush(func(c *nft.Conn) { c.AddChain(other) })
	})
	inNS(t, name, func() error { return g.DeleteLocalnetGuard("br-a") })
	got := ruleset(t, name)
	if strings.Contains(got, SetName) || strings.Contains(got, ChainName) || !strings.Contains(got, "table inet plumb {\n\tchain other {") {
		t.Errorf("with another chain in the table, the last delete must leave the table and that chain only:\n%s", got)
	}
	inNS(t, name, func() error { return flush(func(c *nft.Conn) { c.DelTable(plumbTable()) }) })
	if after := ruleset(t, name); after != before {
		t.Errorf("nft list ruleset:\n%s\nwant:\n%s", after, before)
	}
}

// TestPrivilegedGuardKeptWhileLocalnetOn: DeleteLocalnetGuard refuses
// while the bridge still has route_localnet on.
func TestPrivilegedGuardKeptWhileLocalnetOn(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	testutil.Run(t, "ip", "-n", name, "link", "add", "br-on", "type", "bridge")
	testutil.Run(t, "ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.conf.br-on.route_localnet=1")
	g := newGuard(t)
	inNS(t, name, func() error {
		if err := g.EnsureLocalnetGuard("br-on"); err != nil {
			return err
		}
		if err := g.DeleteLocalnetGuard("br-on"); !errors.Is(err, firewall.ErrLocalnetOn) {
			t.Errorf("DeleteLocalnetGuard with route_localnet on: %v, want ErrLocalnetOn", err)
		}
		if err := g.CheckLocalnetGuard("br-on"); err != nil {
			t.Errorf("the refused delete changed the guard: %v", err)
		}
		return nil
	})
	testutil.Run(t, "ip", "-n", name, "link", "del", "br-on")
	inNS(t, name, func() error { return g.DeleteLocalnetGuard("br-on") })
	if got := ruleset(t, name); got != "" {
		t.Errorf("ruleset after the delete: %q", got)
	}
}
