package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

func TestCheckNetwork(t *testing.T) {
	f := newFake()
	fw := newFirewall(f, "")
	a, b := testNet("a", "br-a", "10.1.0.0/24"), testNet("b", "br-b", "10.2.0.0/24")
	if err := fw.CheckNetwork(a); err == nil {
		t.Fatal("CheckNetwork passed before EnsureNetwork")
	}
	for _, n := range []firewall.Network{a, b} {
		if err := fw.EnsureNetwork(n); err != nil {
			t.Fatal(err)
		}
	}
	restores := len(f.payloads)
	if err := fw.CheckNetwork(a); err != nil {
		t.Fatalf("CheckNetwork after EnsureNetwork: %v", err)
	}
	// A rule of b deleted by hand: a is still whole, b is not, and the
	// error names the missing rule.
	f.run("-D PLUMB-FORWARD " + joinSpec(Rules(b)[1].Spec))
	if err := fw.CheckNetwork(a); err != nil {
		t.Fatalf("CheckNetwork(a) after a rule of b went: %v", err)
	}
	err := fw.CheckNetwork(b)
	if err == nil || !strings.Contains(err.Error(), "-A PLUMB-FORWARD "+joinSpec(Rules(b)[1].Spec)) {
		t.Fatalf("CheckNetwork(b) = %v, want the missing rule named", err)
	}
	// Something inserted above plumb's jump moves it, and breaks nothing.
	f.run("-t nat -N CNI-HOSTPORT-MASQ")
	f.run("-t nat -I POSTROUTING 1 -j CNI-HOSTPORT-MASQ")
	if err := fw.CheckNetwork(a); err != nil {
		t.Fatalf("CheckNetwork with plumb's jump second: %v", err)
	}
	// A jump deleted is a problem.
	f.run(`-t nat -D POSTROUTING -m comment --comment "plumb created-table" -j PLUMB-POSTROUTING`)
	if err := fw.CheckNetwork(a); err == nil || !strings.Contains(err.Error(), "-I POSTROUTING 1") {
		t.Fatalf("CheckNetwork without the nat jump = %v", err)
	}
	if len(f.payloads) != restores || len(f.applied) != 0 {
		t.Fatal("CheckNetwork changed the ruleset")
	}
	if err := fw.CheckNetwork(firewall.Network{Name: "bad name"}); err == nil {
		t.Fatal("CheckNetwork accepted an invalid network")
	}

	// Port rules: present after AddPorts, missing once deleted by hand.
	if err := fw.EnsureNetwork(a); err != nil {
		t.Fatal(err)
	}
	ports := []firewall.Port{{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80}}
	if err := fw.AddPorts(a, "ep1", ports); err != nil {
		t.Fatal(err)
	}
	if err := fw.CheckEndpoint(a, "ep1", ports); err != nil {
		t.Fatalf("CheckEndpoint after AddPorts: %v", err)
	}
	r := PortRules(a.Name, "ep1", ports)[0]
	f.run("-t nat -D " + r.Chain + " " + joinSpec(r.Spec))
	if err := fw.CheckEndpoint(a, "ep1", ports); err == nil || !strings.Contains(err.Error(), "--dport 8080") {
		t.Fatalf("CheckEndpoint without the PREROUTING DNAT = %v", err)
	}
}
