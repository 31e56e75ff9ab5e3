package cni

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/network"
)

func TestEndpointID(t *testing.T) {
	a := EndpointID("ctr", "eth0")
	if a != EndpointID("ctr", "eth0") || !isAttachment(a) || len(a) != 44 {
		t.Fatalf("EndpointID = %q", a)
	}
	for _, other := range [][2]string{{"ctr", "eth1"}, {"ctr2", "eth0"}, {"ct", "reth0"}} {
		if EndpointID(other[0], other[1]) == a {
			t.Errorf("%v shares the id of (ctr, eth0)", other)
		}
	}
}

func TestNetSpecConflicts(t *testing.T) {
	yes, no := true, false
	n := &network.Network{
		Name: "n", Bridge: "pb-n", Subnet: netip.MustParsePrefix("10.1.0.0/24"),
		Gateway: netip.MustParseAddr("10.1.0.1"), MTU: 1500, ICC: true, Masquerade: true,
	}
	if err := (netSpec{Name: "n"}).conflicts(n); err != nil {
		t.Fatalf("a config giving nothing conflicts: %v", err)
	}
	same := netSpec{Name: "n", Subnet: n.Subnet, Gateway: n.Gateway, Bridge: n.Bridge, MTU: 1500, ICC: &yes, Masquerade: &yes, Internal: &no}
	if err := same.conflicts(n); err != nil {
		t.Fatalf("a config repeating the network conflicts: %v", err)
	}
	for field, c := range map[string]netSpec{
		"subnet":   {Subnet: netip.MustParsePrefix("10.2.0.0/24")},
		"gateway":  {Gateway: netip.MustParseAddr("10.1.0.254")},
		"ipRange":  {IPRange: netip.MustParsePrefix("10.1.0.128/25")},
		"bridge":   {Bridge: "br0"},
		"mtu":      {MTU: 9000},
		"internal": {Internal: &yes},
		"icc":      {ICC: &no},
		"ipMasq":   {Masquerade: &no},
	} {
		err := c.conflicts(n)
		if !errors.Is(err, network.ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s differs: %v, want ErrInvalid naming it", field, err)
		}
	}
}

func TestNetSpecCreateOptionsDefaults(t *testing.T) {
	o := (netSpec{Name: "n"}).createOptions()
	if !o.ICC || !o.Masquerade || o.Internal {
		t.Fatalf("defaults = %+v, want icc and masquerade on, as the CLI", o)
	}
	no := false
	o = (netSpec{Name: "n", ICC: &no, Masquerade: &no}).createOptions()
	if o.ICC || o.Masquerade {
		t.Fatalf("icc/ipMasq false not kept: %+v", o)
	}
}

func TestAddCreatesTheNetworkOnceAndChecksConflicts(t *testing.T) {
	f := newFake()
	spec := netSpec{Name: "n", Subnet: netip.MustParsePrefix("10.7.0.0/24")}
	a := attachment{ContainerID: "c1", IfName: "eth0", NetNS: "/x"}
	ep, n, err := addVerb(f, spec, a)
	if err != nil || n.Subnet != spec.Subnet || ep.IP.Addr() != netip.MustParseAddr("10.7.0.2") {
		t.Fatalf("first ADD: %+v %+v %v", ep, n, err)
	}
	a.ContainerID = "c2"
	if _, _, err := addVerb(f, spec, a); err != nil {
		t.Fatalf("second ADD: %v", err)
	}
	if got := strings.Join(f.calls, ","); got != "attach,create,attach,attach" {
		t.Fatalf("calls = %s, want the network created once", got)
	}
	other := netSpec{Name: "n", Subnet: netip.MustParsePrefix("10.8.0.0/24")}
	if _, _, err := addVerb(f, other, attachment{ContainerID: "c3", IfName: "eth0", NetNS: "/x"}); !errors.Is(err, network.ErrInvalid) {
		t.Fatalf("ADD contradicting the network: %v", err)
	}
}
