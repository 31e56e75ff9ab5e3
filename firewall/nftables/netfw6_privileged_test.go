package nftables

import (
	"errors"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedNetLifecycle6: a dual-stack and an IPv6-only network
// with IPv4 and IPv6 ports are written, checked, their ports deleted
// without a read (DeletePortsOf: one batch), and the last DeleteNetwork
// leaves `nft list ruleset` as it was.
func TestPrivilegedNetLifecycle6(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	before := ruleset(t, name)
	f := newNetFW(t)
	t.Cleanup(func() {
		inNS(t, name, func() error { return errors.Join(f.DeleteNetwork("d"), f.DeleteNetwork("six")) })
	})
	inNS(t, name, func() error {
		if err := errors.Join(f.EnsureNetwork(netD), f.EnsureNetwork(net6), f.AddPorts(netD, "ep1", webD)); err != nil {
			return err
		}
		if err := errors.Join(f.CheckEndpoint(netD, "ep1", webD), f.CheckNetwork(net6)); err != nil {
			t.Errorf("after ensure: %v", err)
		}
		if n, m, p := elemCount(t, MapPorts6), elemCount(t, MapAddrPorts6), elemCount(t, SetPublished6); n != 2 || m != 1 || p != 2 {
			t.Errorf("ports6 %d addr_ports6 %d published6 %d, want 2 1 2", n, m, p)
		}
		// The fast path: deleting by key succeeds only when every element
		// is there (else DeletePorts, which reads, follows).
		if err := f.deleteFast(portElems("d", "ep1", webD)); err != nil {
			t.Errorf("DeletePortsOf's batch: %v", err)
		}
		if err := f.AddPorts(netD, "ep1", webD); err != nil {
			return err
		}
		if err := errors.Join(f.DeletePortsOf("d", "ep1", webD), f.DeletePortsOf("d", "ep1", webD)); err != nil {
			return err
		}
		for _, s := range portMaps {
			if n := elemCount(t, s); n != 0 {
				t.Errorf("after DeletePortsOf: %d elements in %s", n, s)
			}
		}
		if err := f.CheckEndpoint(netD, "ep1", webD); err == nil || !strings.Contains(err.Error(), `ports6 { tcp . 8080 comment "plumb:d/ep1" : fd00:3::2 . 80 }`) {
			t.Errorf("CheckEndpoint of deleted ports: %v", err)
		}
		return f.DeleteNetwork("d")
	})
	if got := ruleset(t, name); !strings.Contains(got, `"pb-six" . ipv4`) || strings.Contains(got, `"pb-d"`) {
		t.Errorf("after deleting d, six stays, d goes:\n%s", got)
	}
	inNS(t, name, func() error { return f.DeleteNetwork("six") })
	if after := ruleset(t, name); after != before {
		t.Errorf("nft list ruleset after the last DeleteNetwork:\n%s\nwant:\n%s", after, before)
	}
}

// TestPrivilegedNetScript6: the dry run of a dual-stack network with IPv6
// ports prints nft commands and changes nothing.
func TestPrivilegedNetScript6(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	before := ruleset(t, name)
	var out recorder
	f, _ := NewScript(&out)
	inNS(t, name, func() error {
		return errors.Join(f.EnsureNetwork(netD), f.AddPorts(netD, "ep1", webD), f.CheckEndpoint(netD, "ep1", webD),
			f.DeletePortsOf("d", "ep1", webD), f.DeleteNetwork("d"))
	})
	got := strings.Join(out, "\n")
	for _, want := range []string{
		`add element inet plumb-networks protected_families { "pb-d" . ipv6 comment "plumb:d" }`,
		`add element inet plumb-networks ports6 { tcp . 8080 comment "plumb:d/ep1" : fd00:3::2 . 80 }`,
		`delete element inet plumb-networks addr_ports6 { 2001:db8::1 . udp . 53 }`,
		"delete table inet plumb-networks",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the dry run lacks %q:\n%s", want, got)
		}
	}
	if after := ruleset(t, name); after != before {
		t.Errorf("a dry run changed the ruleset:\n%s", after)
	}
}

// recorder is an Emitter keeping every heredoc's body.
type recorder []string

func (r *recorder) Heredoc(body string, args ...string) { *r = append(*r, body) }
