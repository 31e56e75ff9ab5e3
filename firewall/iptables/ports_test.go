package iptables

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

func testPorts() []firewall.Port {
	c := netip.MustParseAddr("10.1.0.2")
	return []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: c, ContainerPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("192.0.2.7"), HostPort: 53, ContainerIP: c, ContainerPort: 5353},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9090, ContainerIP: c, ContainerPort: 80},
	}
}

func TestPortRules(t *testing.T) {
	const c = "-m comment --comment plumb:a/ep1"
	want := []string{
		"iptables -t nat -A PLUMB-PREROUTING -p tcp -m tcp --dport 8080 " + c + " -j DNAT --to-destination 10.1.0.2:80",
		"iptables -t nat -A PLUMB-OUTPUT -p tcp -m tcp --dport 8080 " + c + " -j DNAT --to-destination 10.1.0.2:80",
		"iptables -t nat -A PLUMB-PREROUTING -d 192.0.2.7/32 -p udp -m udp --dport 53 " + c + " -j DNAT --to-destination 10.1.0.2:5353",
		"iptables -t nat -A PLUMB-OUTPUT -d 192.0.2.7/32 -p udp -m udp --dport 53 " + c + " -j DNAT --to-destination 10.1.0.2:5353",
		// Loopback-only: OUTPUT, never PREROUTING, so nothing but the host reaches it.
		"iptables -t nat -A PLUMB-OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 9090 " + c + " -j DNAT --to-destination 10.1.0.2:80",
	}
	var got []string
	for _, r := range PortRules("a", "ep1", testPorts()) {
		got = append(got, r.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("PortRules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAddAndDeletePorts(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	for _, n := range []firewall.Network{a, b} {
		if err := fw.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	withNetworks := mustSave(t, f)

	// One restore, no read.
	saves, restores := f.saves, len(f.payloads)
	if err := fw.AddPorts(a, "ep1", testPorts()); err != nil {
		t.Fatal(err)
	}
	if f.saves != saves || len(f.payloads) != restores+1 {
		t.Errorf("AddPorts: %d saves, %d restores; want 0 and 1", f.saves-saves, len(f.payloads)-restores)
	}
	other := []firewall.Port{{Proto: "tcp", HostPort: 81, ContainerIP: netip.MustParseAddr("10.2.0.2"), ContainerPort: 80}}
	if err := fw.AddPorts(b, "ep2", other); err != nil {
		t.Fatal(err)
	}
	for _, r := range PortRules("a", "ep1", testPorts()) {
		if n := countRule(f, r); n != 1 {
			t.Errorf("%s present %d times", r, n)
		}
	}

	if err := fw.DeletePorts("a", "ep1"); err != nil {
		t.Fatal(err)
	}
	for _, r := range PortRules("a", "ep1", testPorts()) {
		if n := countRule(f, r); n != 0 {
			t.Errorf("after DeletePorts: %s present %d times", r, n)
		}
	}
	if n := countRule(f, PortRules("b", "ep2", other)[0]); n != 1 {
		t.Errorf("DeletePorts of a removed b's port rule (%d left)", n)
	}
	// Again: nothing to do, nothing written.
	restores = len(f.payloads)
	if err := fw.DeletePorts("a", "ep1"); err != nil || len(f.payloads) != restores {
		t.Errorf("second DeletePorts: %v, %d restores", err, len(f.payloads)-restores)
	}

	// DeleteNetwork takes the network's port rules with it.
	if err := fw.DeleteNetwork(b.Name); err != nil {
		t.Fatal(err)
	}
	if n := countRule(f, PortRules("b", "ep2", other)[0]); n != 0 {
		t.Errorf("DeleteNetwork left a port rule")
	}
	if err := fw.EnsureNetwork(b); err != nil {
		t.Fatal(err)
	}
	if got := mustSave(t, f); got != withNetworks {
		t.Errorf("iptables-save after the ports went:\n%s\nwant:\n%s", got, withNetworks)
	}
}

func TestAddPortsRepairsMissingChains(t *testing.T) {
	// A network whose chains are gone (created by an older plumb, or
	// flushed by hand): the blind append fails, the network's rules are
	// put back, and the append succeeds.
	f := newFake()
	fw := newFirewall(f, "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	if err := fw.AddPorts(a, "ep1", testPorts()[:1]); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, f, a)
	if n := countRule(f, PortRules("a", "ep1", testPorts()[:1])[0]); n != 1 {
		t.Errorf("port rule present %d times", n)
	}
}

func TestPortsBadInput(t *testing.T) {
	fw := newFirewall(newFake(), "")
	a := testNet("a", "br-a", "10.1.0.0/24")
	c := netip.MustParseAddr("10.1.0.2")
	bad := []firewall.Port{
		{Proto: "sctp", HostPort: 1, ContainerIP: c, ContainerPort: 1},
		{Proto: "tcp", HostPort: 0, ContainerIP: c, ContainerPort: 1},
		{Proto: "tcp", HostPort: 1, ContainerIP: c, ContainerPort: 0},
		{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 1, ContainerIP: c, ContainerPort: 1},
		{Proto: "tcp", HostPort: 1, ContainerPort: 1},
	}
	for _, p := range bad {
		if err := fw.AddPorts(a, "ep1", []firewall.Port{p}); !errors.Is(err, firewall.ErrInvalidPort) {
			t.Errorf("AddPorts(%+v) = %v, want firewall.ErrInvalidPort", p, err)
		}
	}
	for _, owner := range []string{"", "a b", "a/b", strings.Repeat("x", 65)} {
		if err := fw.AddPorts(a, owner, testPorts()); !errors.Is(err, firewall.ErrInvalidNetwork) {
			t.Errorf("owner %q: %v, want firewall.ErrInvalidNetwork", owner, err)
		}
		if err := fw.DeletePorts("a", owner); !errors.Is(err, firewall.ErrInvalidNetwork) {
			t.Errorf("DeletePorts owner %q: %v, want firewall.ErrInvalidNetwork", owner, err)
		}
	}
}
