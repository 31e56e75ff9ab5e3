package nftables

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	nft "github.com/google/nftables"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

func newNetFW(t testing.TB) *Firewall {
	f, err := NewFirewall(filepath.Join(t.TempDir(), "firewall.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// elemCount is the number of elements of set in NetTable, read over
// netlink in the current namespace.
func elemCount(t testing.TB, set string) int {
	c, err := nft.New()
	if err != nil {
		t.Fatal(err)
	}
	els, err := c.GetSetElements(netSet(set))
	if err != nil {
		t.Fatalf("listing %s: %v", set, err)
	}
	return len(els)
}

func TestPrivilegedNetLifecycle(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	before := ruleset(t, name)
	f := newNetFW(t)
	inNS(t, name, func() error { return errors.Join(f.EnsureNetwork(netA), f.AddPorts(netA, "ep1", webA[:1])) })
	first := ruleset(t, name)
	out, _ := testutil.InNS(name, "nft", "list", "table", "inet", NetTable)
	t.Logf("one network, one published port:\n%s", out)
	inNS(t, name, func() error { return f.EnsureNetwork(netA) })
	if again := ruleset(t, name); again != first {
		t.Errorf("a second EnsureNetwork changed the ruleset:\n%s\nwas:\n%s", again, first)
	}
	inNS(t, name, func() error {
		if err := errors.Join(f.EnsureNetwork(netB), f.CheckNetwork(netA), f.CheckNetwork(netB), f.CheckEndpoint(netA, "ep1", webA[:1])); err != nil {
			t.Errorf("after ensure: %v", err)
		}
		if err := f.CheckEndpoint(netA, "ep2", webA[:1]); err == nil || !strings.Contains(err.Error(), `comment \"plumb:a/ep1\" : 172.30.1.2 . 80", want`) {
			t.Errorf("CheckEndpoint of a port another owner holds: %v", err)
		}
		return errors.Join(f.DeleteNetwork("a"), f.DeleteNetwork("a"))
	})
	if got := ruleset(t, name); !strings.Contains(got, `"pb-b"`) || strings.Contains(got, `"pb-a"`) || strings.Contains(got, "8080") {
		t.Errorf("after deleting a, b stays, a's elements and ports go:\n%s", got)
	}
	inNS(t, name, func() error { return f.DeleteNetwork("b") })
	if after := ruleset(t, name); after != before {
		t.Errorf("nft list ruleset after the last DeleteNetwork:\n%s\nwant:\n%s", after, before)
	}
}

func TestPrivilegedNetPorts(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	f := newNetFW(t)
	t.Cleanup(func() { inNS(t, name, func() error { return f.DeleteNetwork("a") }) })
	inNS(t, name, func() error {
		// No EnsureNetwork first: AddPorts finds the table missing and
		// ensures the network on the way.
		if err := f.AddPorts(netA, "ep1", webA); err != nil {
			return err
		}
		p2 := []firewall.Port{{Proto: "tcp", HostPort: 8081, ContainerIP: webA[0].ContainerIP, ContainerPort: 81}}
		if err := errors.Join(f.AddPorts(netA, "ep2", p2), f.CheckEndpoint(netA, "ep1", webA), f.CheckEndpoint(netA, "ep2", p2)); err != nil {
			return err
		}
		if n, m, l := elemCount(t, MapPorts), elemCount(t, MapAddrPorts), elemCount(t, MapLoopPorts); n != 2 || m != 1 || l != 1 {
			t.Errorf("elements: ports %d addr_ports %d loopback_ports %d, want 2 1 1", n, m, l)
		}
		if err := errors.Join(f.DeletePorts("a", "ep1"), f.DeletePorts("a", "ep1")); err != nil {
			return err
		}
		if n, m, l := elemCount(t, MapPorts), elemCount(t, MapAddrPorts), elemCount(t, MapLoopPorts); n != 1 || m != 0 || l != 0 {
			t.Errorf("after DeletePorts: ports %d addr_ports %d loopback_ports %d, want 1 0 0", n, m, l)
		}
		if err := f.CheckEndpoint(netA, "ep1", webA); err == nil || !strings.Contains(err.Error(), "element missing (nft add element inet plumb-networks ports { tcp . 8080 comment \"plumb:a/ep1\" : 172.30.1.2 . 80") {
			t.Errorf("CheckEndpoint of deleted ports: %v", err)
		}
		c, err := f.Snapshot()
		if err != nil {
			return err
		}
		if got := c.PortOwners(); len(got["a"]) != 1 || got["a"][0] != "ep2" {
			t.Errorf("PortOwners: %v", got)
		}
		return nil
	})
}

// TestPrivilegedNetRepairs damages the table in each way Check must see
// and EnsureAll must repair in one batch.
func TestPrivilegedNetRepairs(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	f := newNetFW(t)
	nets, pubs := []firewall.Network{netA, netB}, []firewall.Published{{Network: netA, Owner: "ep1", Ports: webA}}
	inNS(t, name, func() error { _, err := f.EnsureAll(nets, pubs); return err })
	good := ruleset(t, name)
	t.Cleanup(func() { inNS(t, name, func() error { return errors.Join(f.DeleteNetwork("a"), f.DeleteNetwork("b")) }) })
	for _, d := range []struct {
		what, want string
		fill       func(c *nft.Conn)
	}{
		{"bridge element deleted", `element missing (nft add element inet plumb-networks bridges { "pb-a" comment "plumb:a" })`, func(c *nft.Conn) {
			_ = c.SetDeleteElements(netSet(SetBridges), []nft.SetElement{{Key: ifnameKey("pb-a")}})
		}},
		{"port element deleted", `element missing (nft add element inet plumb-networks addr_ports { 10.0.0.1 . udp . 53 comment "plumb:a/ep1" : 172.30.1.2 . 5353 })`, func(c *nft.Conn) {
			e := portElems("a", "ep1", webA[1:2])[0]
			_ = c.SetDeleteElements(netSet(MapAddrPorts), []nft.SetElement{{Key: []byte(e.key)}})
		}},
		{"nft flush table", "rule missing (nft add rule inet plumb-networks forward iifname . oifname vmap @icc", func(c *nft.Conn) { c.FlushTable(netTable()) }},
		{"chain deleted", "chain postrouting missing (nft add chain inet plumb-networks postrouting { type nat hook postrouting priority srcnat; policy accept; })", func(c *nft.Conn) {
			c.FlushChain(netChain(ChainPost))
			c.DelChain(netChain(ChainPost))
		}},
		{"table deleted", "table inet plumb-networks missing", func(c *nft.Conn) { c.DelTable(netTable()) }},
	} {
		inNS(t, name, func() error {
			if err := flush(d.fill); err != nil {
				t.Fatalf("%s: %v", d.what, err)
			}
			if err := f.CheckEndpoint(netA, "ep1", webA); err == nil || !strings.Contains(err.Error(), d.want) {
				t.Errorf("%s: Check = %v\nwant %q", d.what, err, d.want)
			}
			if changed, err := f.EnsureAll(nets, pubs); err != nil || !changed {
				t.Errorf("%s: EnsureAll = %v, %v", d.what, changed, err)
			}
			if changed, err := f.EnsureAll(nets, pubs); err != nil || changed {
				t.Errorf("%s: a second EnsureAll = %v, %v", d.what, changed, err)
			}
			return errors.Join(f.CheckEndpoint(netA, "ep1", webA), f.CheckNetwork(netB))
		})
		if d.what != "table deleted" {
			if got := ruleset(t, name); got != good {
				t.Errorf("%s: after the repair:\n%s\nwant:\n%s", d.what, got, good)
			}
		}
	}
}

// TestPrivilegedNetWatch: Watch hears plumb's own changes.
func TestPrivilegedNetWatch(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	f := newNetFW(t)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	errc := testutil.GoInNS(t, name, func() error { return f.Watch(ctx, func() { calls.Add(1) }) })
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Watch: %v", err)
		}
		inNS(t, name, func() error { return f.DeleteNetwork("a") })
	})
	testutil.WaitFor(t, "Watch's first call", func() bool { return calls.Load() == 1 })
	for _, s := range []struct {
		what string
		do   func() error
	}{
		{"EnsureNetwork", func() error { return f.EnsureNetwork(netA) }},
		{"AddPorts", func() error { return f.AddPorts(netA, "ep1", webA[:1]) }},
		{"nft flush table", func() error { return flush(func(c *nft.Conn) { c.FlushTable(netTable()) }) }},
	} {
		before := calls.Load()
		inNS(t, name, s.do)
		testutil.WaitFor(t, "the call after "+s.what, func() bool { return calls.Load() > before })
	}
}

// TestPrivilegedNetCoexistence: with iptables' FORWARD policy DROP (as
// Docker sets it), a network's accept rules go into DOCKER-USER, shown
// by iptables-save as iptables writes them, and go with the network.
func TestPrivilegedNetCoexistence(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	testutil.Run(t, "ip", "netns", "exec", name, "iptables", "-P", "FORWARD", "DROP")
	testutil.Run(t, "ip", "netns", "exec", name, "iptables", "-N", "DOCKER-USER")
	testutil.Run(t, "ip", "netns", "exec", name, "iptables", "-A", "DOCKER-USER", "-j", "RETURN")
	before := ruleset(t, name)
	f := newNetFW(t)
	inNS(t, name, func() error { return f.EnsureNetwork(netA) })
	save := testutil.Run(t, "ip", "netns", "exec", name, "iptables-save", "-t", "filter")
	for _, want := range []string{
		"-A DOCKER-USER -o pb-a -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment \"plumb:a\" -j ACCEPT\n",
		"-A DOCKER-USER -i pb-a -m comment --comment \"plumb:a\" -j ACCEPT\n",
	} {
		if !strings.Contains(save, want) {
			t.Errorf("iptables-save lacks %q:\n%s", want, save)
		}
	}
	inNS(t, name, func() error {
		if err := f.CheckNetwork(netA); err != nil {
			t.Errorf("Check: %v", err)
		}
		return nil
	})
	testutil.Run(t, "ip", "netns", "exec", name, "iptables", "-D", "DOCKER-USER", "-i", "pb-a", "-m", "comment", "--comment", "plumb:a", "-j", "ACCEPT")
	inNS(t, name, func() error {
		if err := f.CheckNetwork(netA); err == nil || !strings.Contains(err.Error(), "(iptables -I DOCKER-USER -i pb-a -m comment --comment plumb:a -j ACCEPT)") {
			t.Errorf("Check after a rule deleted: %v", err)
		}
		if changed, err := f.EnsureAll([]firewall.Network{netA}, nil); err != nil || !changed {
			t.Errorf("EnsureAll: %v %v", changed, err)
		}
		return errors.Join(f.CheckNetwork(netA), f.DeleteNetwork("a"))
	})
	if after := ruleset(t, name); after != before {
		t.Errorf("nft list ruleset after DeleteNetwork:\n%s\nwant:\n%s", after, before)
	}
}

// TestPrivilegedNetDeletePortsOf: DeletePortsOf deletes exactly the
// listed ports of the owner, leaves another owner's, and is success when
// they are gone already (its batch fails, DeletePorts follows); a record
// listing fewer ports than were published leaves the others, which
// DeletePorts then removes.
func TestPrivilegedNetDeletePortsOf(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	f := newNetFW(t)
	t.Cleanup(func() { inNS(t, name, func() error { return f.DeleteNetwork("a") }) })
	p2 := []firewall.Port{{Proto: "tcp", HostPort: 8081, ContainerIP: webA[0].ContainerIP, ContainerPort: 81}}
	counts := func(what string, want [3]int) {
		t.Helper()
		if got := [3]int{elemCount(t, MapPorts), elemCount(t, MapAddrPorts), elemCount(t, MapLoopPorts)}; got != want {
			t.Errorf("%s: ports, addr_ports, loopback_ports %v, want %v", what, got, want)
		}
	}
	inNS(t, name, func() error {
		if err := errors.Join(f.AddPorts(netA, "ep1", webA), f.AddPorts(netA, "ep2", p2)); err != nil {
			return err
		}
		if err := errors.Join(f.DeletePortsOf("a", "ep1", webA), f.DeletePortsOf("a", "ep1", webA)); err != nil {
			return err
		}
		counts("after DeletePortsOf ep1, twice", [3]int{1, 0, 0})
		if err := f.CheckEndpoint(netA, "ep2", p2); err != nil {
			t.Errorf("ep2's port: %v", err)
		}
		if err := errors.Join(f.AddPorts(netA, "ep1", webA), f.DeletePortsOf("a", "ep1", webA[:1])); err != nil {
			return err
		}
		counts("after DeletePortsOf of part of ep1's ports", [3]int{1, 1, 1})
		if err := firewall.DeletePortsOf(f, "a", "ep1", nil); err != nil {
			return err
		}
		counts("after DeletePortsOf with no ports (DeletePorts)", [3]int{1, 0, 0})
		return nil
	})
}
