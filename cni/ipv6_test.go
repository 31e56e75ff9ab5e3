package cni

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/network"
)

// A dual-stack endpoint's result lists both addresses on the container
// interface, a default route per family it got, and the IPv4 gateway as
// nameserver; an IPv6-only one names the IPv6 gateway.
func TestResultDualStack(t *testing.T) {
	n := &network.Network{Name: "n", Bridge: "br", Subnet: netip.MustParsePrefix("10.1.0.0/24"), Gateway: netip.MustParseAddr("10.1.0.1"),
		Subnet6: netip.MustParsePrefix("fd00:1::/64"), Gateway6: netip.MustParseAddr("fd00:1::1"), MTU: 1500}
	ep := &network.Endpoint{IfName: "eth0", HostVeth: "veth1", MAC: "02:42:0a:01:00:02",
		IP: netip.MustParsePrefix("10.1.0.2/24"), IP6: netip.MustParsePrefix("fd00:1::2/64"), DefaultRoute: true, DefaultRoute6: true}
	r, err := newResult(ep, n, "/ns", DNSConf{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ips, routes []string
	for _, ip := range r.IPs {
		ips = append(ips, ip.Address.String()+" via "+ip.Gateway.String())
	}
	for _, rt := range r.Routes {
		routes = append(routes, rt.Dst.String()+" via "+rt.GW.String())
	}
	if got, want := strings.Join(ips, "; "), "10.1.0.2/24 via 10.1.0.1; fd00:1::2/64 via fd00:1::1"; got != want {
		t.Errorf("ips %q, want %q", got, want)
	}
	if got, want := strings.Join(routes, "; "), "0.0.0.0/0 via 10.1.0.1; ::/0 via fd00:1::1"; got != want {
		t.Errorf("routes %q, want %q", got, want)
	}
	if got := r.DNS.Nameservers; len(got) == 0 || got[0] != "10.1.0.1" {
		t.Errorf("nameservers %v, want the IPv4 gateway first", got)
	}
	n.Subnet, n.Gateway, ep.IP, ep.DefaultRoute = netip.Prefix{}, netip.Addr{}, netip.Prefix{}, false
	if r, err = newResult(ep, n, "/ns", DNSConf{}, nil); err != nil {
		t.Fatal(err)
	}
	if len(r.IPs) != 1 || len(r.Routes) != 1 || r.DNS.Nameservers[0] != "fd00:1::1" {
		t.Errorf("IPv6 only: ips %v routes %v dns %v", r.IPs, r.Routes, r.DNS.Nameservers)
	}
}

// The ips capability and CNI_ARGS IP take one address per family.
func TestAttachRequestBothFamilies(t *testing.T) {
	c := &NetConf{Name: "n", RuntimeConfig: RuntimeConfig{IPs: []string{"fd00:1::9/64", "10.1.0.9/24"}}}
	o, e := c.attachRequest("")
	if e != nil || o.IP != netip.MustParseAddr("10.1.0.9") || o.IP6 != netip.MustParseAddr("fd00:1::9") {
		t.Fatalf("runtimeConfig ips: %+v, %v", o, e)
	}
	o, e = (&NetConf{Name: "n"}).attachRequest("IP=10.1.0.7,fd00:1::7")
	if e != nil || o.IP != netip.MustParseAddr("10.1.0.7") || o.IP6 != netip.MustParseAddr("fd00:1::7") {
		t.Fatalf("CNI_ARGS IP: %+v, %v", o, e)
	}
	if _, e = (&NetConf{Name: "n", RuntimeConfig: RuntimeConfig{IPs: []string{"fd00:1::9", "fd00:1::8"}}}).attachRequest(""); e == nil {
		t.Error("two IPv6 addresses were taken")
	}
}

// A config's IPv6 keys reach the create options; bad ones are refused.
func TestConfigIPv6(t *testing.T) {
	f := false
	c := &NetConf{Name: "n", Subnet6: "fd00:2::/64", Gateway6: "fd00:2::1", IPv4: &f, GatewayModeIPv6: "routed"}
	cn, e := c.validate()
	if e != nil {
		t.Fatal(e)
	}
	o := cn.createOptions()
	if !o.IPv6 || !o.NoIPv4 || o.Subnet6 != netip.MustParsePrefix("fd00:2::/64") || o.Gateway6 != netip.MustParseAddr("fd00:2::1") || o.GatewayMode6 != "routed" {
		t.Errorf("create options %+v", o)
	}
	for _, bad := range []*NetConf{{Name: "n", Subnet6: "10.0.0.0/24"}, {Name: "n", Gateway6: "10.0.0.1"}, {Name: "n", IPRange6: "fd00::/x"}} {
		if _, e := bad.validate(); e == nil {
			t.Errorf("%+v was taken", bad)
		}
	}
}
