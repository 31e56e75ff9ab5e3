package overlay

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestVXLANName(t *testing.T) {
	a, b := VXLANName("web"), VXLANName("web")
	if a != b || len(a) != 15 || !strings.HasPrefix(a, "vx-") {
		t.Fatalf("VXLANName(web) = %q, %q", a, b)
	}
	if VXLANName("db") == a {
		t.Fatal("two networks share a device name")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Name: "vx-0", VNI: 42, Local: netip.MustParseAddr("10.0.0.1")}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Config{
		{Name: "", VNI: 42, Local: ok.Local},
		{Name: "a-name-too-long-x", VNI: 42, Local: ok.Local},
		{Name: "vx/0", VNI: 42, Local: ok.Local},
		{Name: "vx-0", VNI: 0, Local: ok.Local},
		{Name: "vx-0", VNI: 1 << 24, Local: ok.Local},
		{Name: "vx-0", VNI: 42},
		{Name: "vx-0", VNI: 42, Local: netip.MustParseAddr("0.0.0.0")},
		{Name: "vx-0", VNI: 42, Local: netip.MustParseAddr("239.1.1.1")},
		{Name: "vx-0", VNI: 42, Local: ok.Local, Port: 70000},
		{Name: "vx-0", VNI: 42, Local: ok.Local, MTU: 40},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestRemoteValidate(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:02")
	ip, vtep := netip.MustParseAddr("10.200.0.2"), netip.MustParseAddr("10.99.0.2")
	if err := (Remote{MAC: mac, IP: ip, VTEP: vtep}).validate("vx"); err != nil {
		t.Fatal(err)
	}
	bcast, _ := net.ParseMAC("ff:ff:ff:ff:ff:ff")
	zero := make(net.HardwareAddr, 6)
	for _, bad := range []Remote{
		{MAC: nil, IP: ip, VTEP: vtep},
		{MAC: bcast, IP: ip, VTEP: vtep},
		{MAC: zero, IP: ip, VTEP: vtep},
		{MAC: mac, VTEP: vtep},
		{MAC: mac, IP: ip},
		{MAC: mac, IP: ip, VTEP: netip.MustParseAddr("224.0.0.1")},
	} {
		if err := bad.validate("vx"); err == nil || !strings.Contains(err.Error(), `"vx"`) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
