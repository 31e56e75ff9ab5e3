package firewall

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func testNet(name, br, subnet string) Network {
	return Network{Name: name, Bridge: br, Subnet: netip.MustParsePrefix(subnet), ICC: true, Masquerade: true}
}

func TestValidate(t *testing.T) {
	ok := testNet("sinatra-net", "br-0123456789a", "172.30.0.0/24")
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", ok, err)
	}
	bad := map[string]func(*Network){
		"empty name":      func(n *Network) { n.Name = "" },
		"name with space": func(n *Network) { n.Name = "a b" },
		"name with colon": func(n *Network) { n.Name = "a:b" },
		"name with quote": func(n *Network) { n.Name = `a"b` },
		"leading dash":    func(n *Network) { n.Name = "-a" },
		"long name":       func(n *Network) { n.Name = strings.Repeat("a", 201) },
		"empty bridge":    func(n *Network) { n.Bridge = "" },
		"long bridge":     func(n *Network) { n.Bridge = "br-0123456789abc" },
		"wildcard bridge": func(n *Network) { n.Bridge = "br+" },
		"slash bridge":    func(n *Network) { n.Bridge = "br/0" },
		"dot bridge":      func(n *Network) { n.Bridge = "." },
		"no subnet":       func(n *Network) { n.Subnet = netip.Prefix{} },
		"ipv6 subnet":     func(n *Network) { n.Subnet = netip.MustParsePrefix("fd00::/64") },
		"4in6 subnet":     func(n *Network) { n.Subnet = netip.MustParsePrefix("::ffff:10.0.0.0/104") },
	}
	for name, mutate := range bad {
		n := ok
		mutate(&n)
		if err := n.Validate(); !errors.Is(err, ErrInvalidNetwork) {
			t.Errorf("%s: Validate(%+v) = %v, want ErrInvalidNetwork", name, n, err)
		}
	}
}
