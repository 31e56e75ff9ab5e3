package iptables

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

// outcome classifies an error the way a caller can branch on it.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, firewall.ErrInvalidNetwork):
		return "invalid network"
	case errors.Is(err, firewall.ErrInvalidPort):
		return "invalid port"
	}
	return "error"
}

// TestFakeMirrorsBackend runs one script against this backend (over the
// in-memory iptables) and against firewall.Fake: each step must end the
// same way on both, so that a unit test written against the Fake holds for
// the real thing.
func TestFakeMirrorsBackend(t *testing.T) {
	ipt := newFake()
	before := mustSave(t, ipt)
	backend, fake := newFirewall(ipt, ""), firewall.NewFake()

	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	c := testNet("c", "br-c", "10.3.0.0/24")
	c.Internal = true
	p := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80}}
	q := []firewall.Port{{Proto: "udp", HostIP: netip.MustParseAddr("192.0.2.7"), HostPort: 53, ContainerIP: netip.MustParseAddr("10.2.0.2"), ContainerPort: 53}}
	pAny := []firewall.Port{p[0]}
	pAny[0].HostIP = netip.IPv4Unspecified()
	pMore := append([]firewall.Port{{Proto: "tcp", HostPort: 9090, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 90}}, p...)
	aNoICC, aUnmasked := a, a
	aNoICC.ICC = false
	aUnmasked.Subnet = netip.MustParsePrefix("10.1.0.1/24")
	cNoMasq := c
	cNoMasq.Masquerade = false
	badBridge := b
	badBridge.Bridge = "br+"
	badPort := []firewall.Port{{Proto: "sctp", HostPort: 1, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 1}}

	steps := []struct {
		name string
		do   func(firewall.Firewall) error
		want string
	}{
		{"check a before anything", func(f firewall.Firewall) error { return f.CheckNetwork(a) }, "error"},
		{"add ports of an invalid network to an empty host", func(f firewall.Firewall) error { return f.AddPorts(badBridge, "ep", p) }, "invalid network"},
		{"add ports to an empty host ensures a", func(f firewall.Firewall) error { return f.AddPorts(a, "ep1", p) }, "ok"},
		{"check a", func(f firewall.Firewall) error { return f.CheckNetwork(a) }, "ok"},
		{"check a's endpoint", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "ep1", p) }, "ok"},
		{"check with 0.0.0.0", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "ep1", pAny) }, "ok"},
		{"check a port not published", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "ep1", pMore) }, "error"},
		{"check another config", func(f firewall.Firewall) error { return f.CheckNetwork(aNoICC) }, "error"},
		{"check an unmasked subnet", func(f firewall.Firewall) error { return f.CheckNetwork(aUnmasked) }, "ok"},
		{"add ports to b, not ensured", func(f firewall.Firewall) error { return f.AddPorts(b, "ep2", q) }, "ok"},
		{"add ports of an invalid b beside a", func(f firewall.Firewall) error { return f.AddPorts(badBridge, "ep3", q) }, "ok"},
		{"check b", func(f firewall.Firewall) error { return f.CheckNetwork(b) }, "error"},
		{"check b's endpoint", func(f firewall.Firewall) error { return f.CheckEndpoint(b, "ep2", q) }, "error"},
		{"ensure b", func(f firewall.Firewall) error { return f.EnsureNetwork(b) }, "ok"},
		{"check b's endpoint again", func(f firewall.Firewall) error { return f.CheckEndpoint(b, "ep2", q) }, "ok"},
		{"ensure internal c", func(f firewall.Firewall) error { return f.EnsureNetwork(c) }, "ok"},
		{"check c without masquerade", func(f firewall.Firewall) error { return f.CheckNetwork(cNoMasq) }, "ok"},
		{"no ports", func(f firewall.Firewall) error { return f.AddPorts(c, "ep4", nil) }, "ok"},
		{"delete a's ports", func(f firewall.Firewall) error { return f.DeletePorts("a", "ep1") }, "ok"},
		{"check them gone", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "ep1", p) }, "error"},
		{"delete them again", func(f firewall.Firewall) error { return f.DeletePorts("a", "ep1") }, "ok"},
		{"delete b", func(f firewall.Firewall) error { return f.DeleteNetwork("b") }, "ok"},
		{"check b's endpoint gone", func(f firewall.Firewall) error { return f.CheckEndpoint(b, "ep2", q) }, "error"},
		{"delete b again", func(f firewall.Firewall) error { return f.DeleteNetwork("b") }, "ok"},
		{"ensure invalid", func(f firewall.Firewall) error { return f.EnsureNetwork(badBridge) }, "invalid network"},
		{"delete no name", func(f firewall.Firewall) error { return f.DeleteNetwork("") }, "invalid network"},
		{"bad owner", func(f firewall.Firewall) error { return f.DeletePorts("a", "a/b") }, "invalid network"},
		{"bad port", func(f firewall.Firewall) error { return f.AddPorts(a, "ep1", badPort) }, "invalid port"},
		{"check a bad port", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "ep1", badPort) }, "invalid port"},
		{"delete a", func(f firewall.Firewall) error { return f.DeleteNetwork("a") }, "ok"},
		{"delete c", func(f firewall.Firewall) error { return f.DeleteNetwork("c") }, "ok"},
	}
	for _, s := range steps {
		gotReal, gotFake := outcome(s.do(backend)), outcome(s.do(fake))
		if gotReal != s.want || gotFake != s.want {
			t.Errorf("%s: iptables %s, Fake %s; want %s", s.name, gotReal, gotFake, s.want)
		}
	}
	if after := mustSave(t, ipt); after != before || !fake.Empty() {
		t.Errorf("after the script: iptables-save\n%s\nwant\n%s\nFake:\n%s", after, before, fake)
	}
}

// TestFakeMirrorsBackendIPv6 is TestFakeMirrorsBackend for dual-stack and
// IPv6-only networks, gateway modes and IPv6 ports.
func TestFakeMirrorsBackendIPv6(t *testing.T) {
	backend, f4, f6 := newFake6()
	fake := firewall.NewFake()

	a := testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")
	b := testNetOnly6("b", "br-b", "fd00:2::/64")
	b.Mode6 = firewall.ModeRouted
	aNat, aUnmasked, aIsolated := a, a, a
	aNat.Mode6 = firewall.ModeNAT
	aUnmasked.Subnet6 = netip.MustParsePrefix("fd00:1::1/64")
	aIsolated.Mode6 = firewall.ModeIsolated
	bMasq := b
	bMasq.Masquerade = false // routed: masquerade or not, the same rules
	bInternal, bIsolated := b, b
	bInternal.Internal = true
	bIsolated.Mode6, bIsolated.Internal = firewall.ModeIsolated, false
	c6 := netip.MustParseAddr("fd00:1::2")
	p := []firewall.Port{
		{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80},
		{Proto: "tcp", HostPort: 8080, ContainerIP: c6, ContainerPort: 80},
	}
	pAny := []firewall.Port{{Proto: "tcp", HostIP: netip.IPv6Unspecified(), HostPort: 8080, ContainerIP: c6, ContainerPort: 80}}
	lo := []firewall.Port{{Proto: "tcp", HostIP: netip.IPv6Loopback(), HostPort: 9090, ContainerIP: c6, ContainerPort: 80}}
	q := []firewall.Port{{Proto: "udp", HostPort: 53, ContainerIP: netip.MustParseAddr("fd00:2::2"), ContainerPort: 53}}
	mixed := []firewall.Port{{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 1, ContainerIP: c6, ContainerPort: 1}}

	steps := []struct {
		name string
		do   func(firewall.Firewall) error
		want string
	}{
		{"ensure a", func(f firewall.Firewall) error { return f.EnsureNetwork(a) }, "ok"},
		{"check a as nat", func(f firewall.Firewall) error { return f.CheckNetwork(aNat) }, "ok"},
		{"check a unmasked", func(f firewall.Firewall) error { return f.CheckNetwork(aUnmasked) }, "ok"},
		{"check a isolated", func(f firewall.Firewall) error { return f.CheckNetwork(aIsolated) }, "error"},
		{"publish on a", func(f firewall.Firewall) error { return f.AddPorts(a, "e1", p) }, "ok"},
		{"check them", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "e1", p) }, "ok"},
		{"check with [::]", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "e1", pAny) }, "ok"},
		{"a [::1] port needs no rule", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "e1", lo) }, "ok"},
		{"mixed families", func(f firewall.Firewall) error { return f.AddPorts(a, "e9", mixed) }, "invalid port"},
		{"ensure routed b", func(f firewall.Firewall) error { return f.EnsureNetwork(b) }, "ok"},
		{"check b unmasqueraded", func(f firewall.Firewall) error { return f.CheckNetwork(bMasq) }, "ok"},
		{"check b internal", func(f firewall.Firewall) error { return f.CheckNetwork(bInternal) }, "error"},
		{"publish on b", func(f firewall.Firewall) error { return f.AddPorts(b, "e2", q) }, "ok"},
		{"check b's port", func(f firewall.Firewall) error { return f.CheckEndpoint(b, "e2", q) }, "ok"},
		{"ensure b internal", func(f firewall.Firewall) error { return f.EnsureNetwork(bInternal) }, "ok"},
		{"internal is isolated for IPv6-only", func(f firewall.Firewall) error { return f.CheckNetwork(bIsolated) }, "ok"},
		{"unpublish a's", func(f firewall.Firewall) error { return f.DeletePorts("a", "e1") }, "ok"},
		{"check them gone", func(f firewall.Firewall) error { return f.CheckEndpoint(a, "e1", p[1:]) }, "error"},
		{"delete b", func(f firewall.Firewall) error { return f.DeleteNetwork("b") }, "ok"},
		{"check b's port gone", func(f firewall.Firewall) error { return f.CheckEndpoint(b, "e2", q) }, "error"},
		{"delete a", func(f firewall.Firewall) error { return f.DeleteNetwork("a") }, "ok"},
	}
	for _, s := range steps {
		gotReal, gotFake := outcome(s.do(backend)), outcome(s.do(fake))
		if gotReal != s.want || gotFake != s.want {
			t.Errorf("%s: iptables %s, Fake %s; want %s", s.name, gotReal, gotFake, s.want)
		}
	}
	if s4, s6 := mustSave(t, f4), mustSave(t, f6); s4 != "" || s6 != "" || !fake.Empty() {
		t.Errorf("after the script: iptables-save\n%s\nip6tables-save\n%s\nFake:\n%s", s4, s6, fake)
	}
}
