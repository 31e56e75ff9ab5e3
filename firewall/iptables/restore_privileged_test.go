package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedEnsureAllAfterAFlush: after the flush a firewall reload
// does, EnsureAll puts back every network's rules and every owner's port
// rules in one restore, exactly as they were; a second EnsureAll writes
// nothing; an owner's changed ports replace its old ones; what is not
// listed stays as it is.
func TestPrivilegedEnsureAllAfterAFlush(t *testing.T) {
	name, fw, cr := setup(t)
	a := testNet("a", "br-a", "10.1.0.0/24")
	b := testNet("b", "br-b", "10.2.0.0/24")
	cleanupNets(t, name, fw, a, b)
	pa := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80}}
	pb := []firewall.Port{{Proto: "udp", HostPort: 5353, ContainerIP: netip.MustParseAddr("10.2.0.2"), ContainerPort: 53}}
	inNS(t, name, func() error {
		if err := fw.EnsureNetwork(a); err != nil {
			return err
		}
		if err := fw.EnsureNetwork(b); err != nil {
			return err
		}
		if err := fw.AddPorts(a, "e1", pa); err != nil {
			return err
		}
		return fw.AddPorts(b, "e2", pb)
	})
	whole := saveIn(t, name)
	for _, args := range [][]string{{"-F"}, {"-X"}, {"-t", "nat", "-F"}, {"-t", "nat", "-X"}} {
		if out, err := testutil.InNS(name, "iptables", args...); err != nil {
			t.Fatalf("iptables %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	pubs := []firewall.Published{{Network: a, Owner: "e1", Ports: pa}, {Network: b, Owner: "e2", Ports: pb}}
	cr.restores = 0
	inNS(t, name, func() error {
		changed, err := fw.EnsureAll([]firewall.Network{a, b}, pubs)
		if !changed {
			t.Error("EnsureAll after a flush reports no change")
		}
		return err
	})
	if cr.restores != 1 {
		t.Errorf("EnsureAll after a flush: %d restores, want 1", cr.restores)
	}
	// The jumps' "created-table" mark is the one thing a flush erases for
	// good: whether plumb made the tables is not in the ruleset any more.
	unmark := func(s string) string { return strings.ReplaceAll(s, `"plumb created-table"`, "plumb") }
	if got := saveIn(t, name); got != unmark(whole) {
		t.Errorf("after EnsureAll:\n%s\nwant, as before the flush:\n%s", got, unmark(whole))
	}
	checkLive(t, name, a, b)
	inNS(t, name, func() error {
		changed, err := fw.EnsureAll([]firewall.Network{a, b}, pubs)
		if changed {
			t.Error("EnsureAll of what is whole reports a change")
		}
		return err
	})
	if cr.restores != 1 {
		t.Errorf("EnsureAll of what is whole: %d restores in all, want still 1", cr.restores)
	}
	// e1 publishes another port now; b and e2 are not listed.
	pa2 := []firewall.Port{{Proto: "tcp", HostPort: 9090, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 90}}
	inNS(t, name, func() error {
		_, err := fw.EnsureAll([]firewall.Network{a}, []firewall.Published{{Network: a, Owner: "e1", Ports: pa2}})
		return err
	})
	var c firewall.Checker
	inNS(t, name, func() (err error) { c, err = fw.Snapshot(); return err })
	if err := c.CheckEndpoint(a, "e1", pa2); err != nil {
		t.Errorf("e1's new port: %v", err)
	}
	if err := c.CheckEndpoint(a, "e1", pa); err == nil {
		t.Error("e1's old port is still published")
	}
	if err := c.CheckEndpoint(b, "e2", pb); err != nil {
		t.Errorf("e2, not listed, lost its port: %v", err)
	}
}
