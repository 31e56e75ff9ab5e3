package network

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"sinatra-net", "a", "net_1.x", strings.Repeat("a", 64)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "-x", "a/b", "a b", "ü", strings.Repeat("a", 65), "a\x00"} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestBridgeNameFitsAnInterface(t *testing.T) {
	a, b := BridgeName("sinatra-net"), BridgeName("sinatra-net")
	if a != b || len(a) > 15 || !strings.HasPrefix(a, "pb-") {
		t.Fatalf("BridgeName = %q, %q", a, b)
	}
	if BridgeName("other") == a {
		t.Fatal("two names share a bridge")
	}
	n := &Network{ID: "abc"}
	if v := HostVethName(n, "x"); len(v) != 15 || v == HostVethName(n, "y") {
		t.Fatalf("hostVethName = %q", v)
	}
}

func TestValidateAttach(t *testing.T) {
	n := &Network{Name: "n", Subnet: netip.MustParsePrefix("10.1.0.0/24")}
	bad := []AttachOptions{
		{IP: netip.MustParseAddr("10.2.0.5")},
		{IP: netip.MustParseAddr("fd00::1")},
		{MAC: "zz:zz"},
		{MAC: "01:00:5e:00:00:01"},
		{IfName: "a-name-that-is-too-long"},
		{IfName: "lo"},
		{IfName: "a/b"},
		{Aliases: []string{"bad name"}},
		{Aliases: []string{"-x"}},
	}
	for _, o := range bad {
		if err := validateAttach(n, &o); !errors.Is(err, ErrInvalid) {
			t.Errorf("validateAttach(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	o := AttachOptions{IP: netip.MustParseAddr("10.1.0.9"), MAC: "02:AA:bb:cc:dd:ee", IfName: "eth1", Aliases: []string{"web", "web.local"}}
	if err := validateAttach(n, &o); err != nil {
		t.Fatal(err)
	}
	if o.MAC != "02:aa:bb:cc:dd:ee" {
		t.Fatalf("MAC not normalised: %q", o.MAC)
	}
}

func TestEndpointNames(t *testing.T) {
	e := &Endpoint{ContainerName: "web", Hostname: "abc123", Aliases: []string{"web", "www"}}
	if got := strings.Join(e.Names(), ","); got != "web,abc123,www" {
		t.Fatalf("Names = %s", got)
	}
}

func TestStateFilesDamaged(t *testing.T) {
	m := NewManager(t.TempDir())
	if _, err := m.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing = %v", err)
	}
	for _, content := range []string{"", "{", "\x00\x01garbage", `{"name":"other"}`, `{"name":"n","id":"short","subnet":"10.1.0.0/24"}`} {
		writeRaw(t, m.netDir("n")+"/network.json", content)
		if _, err := m.Get("n"); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("Get with network.json %q = %v, want damaged", content, err)
		}
		writeRaw(t, m.endpointPath("n", "ep1"), content)
		if _, err := m.Endpoint("n", "ep1"); !errors.Is(err, errDamaged) {
			t.Fatalf("endpoint with %q = %v, want errDamaged", content, err)
		}
		if eps, err := m.Endpoints("n"); err != nil || len(eps) != 0 {
			t.Fatalf("Endpoints with a damaged record = %v, %v", eps, err)
		}
	}
	nets, err := m.List()
	if len(nets) != 0 || err == nil {
		t.Fatalf("List with a damaged network = %v, %v", nets, err)
	}
}
