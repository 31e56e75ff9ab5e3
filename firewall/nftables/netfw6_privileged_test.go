package nftables

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"

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

// TestPrivilegedNetCoexistence6: with ip6tables' FORWARD policy DROP (as
// Docker 27+ sets it), a network with IPv6 gets its accept rules in
// ip6tables' DOCKER-USER, as ip6tables writes them, its IPv6 traffic
// passes (a published port, NAT66 going out), and the rules go with it.
func TestPrivilegedNetCoexistence6(t *testing.T) {
	testutil.RequirePrivileged(t)
	l := newTrafficLab6(t)
	for _, args := range [][]string{{"-P", "FORWARD", "DROP"}, {"-N", "DOCKER-USER"}, {"-A", "DOCKER-USER", "-j", "RETURN"},
		{"-A", "FORWARD", "-j", "DOCKER-USER"}} {
		testutil.Run(t, "ip", append([]string{"netns", "exec", l.host, "ip6tables"}, args...)...)
	}
	before := ruleset(t, l.host)
	n1 := firewall.Network{Name: "u1", Bridge: "pb-u1", Subnet6: netip.MustParsePrefix("fd00:71::/64"), ICC: true, Masquerade: true}
	p1 := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:71::2"), ContainerPort: 80}}
	f := newNetFW(t)
	t.Cleanup(func() { inNS(t, l.host, func() error { return f.DeleteNetwork("u1") }) })
	inNS(t, l.host, func() error { return errors.Join(f.EnsureNetwork(n1), f.AddPorts(n1, "ep1", p1)) })
	save := testutil.Run(t, "ip", "netns", "exec", l.host, "ip6tables-save", "-t", "filter")
	for _, want := range []string{
		"-A DOCKER-USER -o pb-u1 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment \"plumb:u1\" -j ACCEPT\n",
		"-A DOCKER-USER -i pb-u1 -m comment --comment \"plumb:u1\" -j ACCEPT\n",
	} {
		if !strings.Contains(save, want) {
			t.Errorf("ip6tables-save lacks %q:\n%s", want, save)
		}
	}
	if save4 := testutil.Run(t, "ip", "netns", "exec", l.host, "iptables-save", "-t", "filter"); strings.Contains(save4, "plumb:u1") {
		t.Errorf("an IPv6-only network has rules in iptables:\n%s", save4)
	}
	hello6(t, l.c1, "[::]:80", "c1")
	serve6(t, l.nbr, "[::]:80", func(c net.Conn) string { return c.RemoteAddr().(*net.TCPAddr).IP.String() })
	l.expect(t, []probe6{
		{"a neighbour to the host's published port", l.nbr, "[fd00:70::1]:8080", "hello from c1"},
		{"a container going out (NAT66)", l.c1, "[fd00:70::2]:80", "fd00:70::1"},
	})
	inNS(t, l.host, func() error {
		if err := f.CheckNetwork(n1); err != nil {
			t.Errorf("Check: %v", err)
		}
		return f.DeleteNetwork("u1")
	})
	if after := ruleset(t, l.host); after != before {
		t.Errorf("nft list ruleset after DeleteNetwork:\n%s\nwant:\n%s", after, before)
	}
}
