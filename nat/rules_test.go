package nat

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func testNet(name, br, subnet string) Network {
	return Network{Name: name, Bridge: br, Subnet: netip.MustParsePrefix(subnet), ICC: true, Masquerade: true}
}

func TestRules(t *testing.T) {
	normal := testNet("web", "br-web", "172.30.0.0/24")
	internal := normal
	internal.Internal = true
	noICC := normal
	noICC.ICC = false
	noMasq := normal
	noMasq.Masquerade = false
	unmasked := normal
	unmasked.Subnet = netip.MustParsePrefix("172.30.0.1/24")

	const c = "-m comment --comment plumb:web"
	head := []string{
		"iptables -t filter -A PLUMB-FORWARD -o br-web -m conntrack --ctstate RELATED,ESTABLISHED " + c + " -j ACCEPT",
	}
	iso := []string{
		"iptables -t filter -A PLUMB-ISOLATION-1 -i br-web ! -o br-web " + c + " -j PLUMB-ISOLATION-2",
		"iptables -t filter -A PLUMB-ISOLATION-2 -o br-web " + c + " -j DROP",
	}
	masq := "iptables -t nat -A PLUMB-POSTROUTING -s 172.30.0.0/24 ! -o br-web " + c + " -j MASQUERADE"
	iccAccept := "iptables -t filter -A PLUMB-FORWARD -i br-web -o br-web " + c + " -j ACCEPT"
	out := "iptables -t filter -A PLUMB-FORWARD -i br-web ! -o br-web " + c + " -j ACCEPT"
	dnat := "iptables -t filter -A PLUMB-FORWARD ! -i br-web -o br-web -m conntrack --ctstate DNAT " + c + " -j ACCEPT"
	guard := "iptables -t filter -A PLUMB-INPUT -d 127.0.0.0/8 -i br-web -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT " + c + " -j DROP"
	ports := []string{
		"iptables -t nat -A PLUMB-POSTROUTING -s 127.0.0.0/8 -o br-web " + c + " -j MASQUERADE",
		"iptables -t nat -A PLUMB-POSTROUTING -s 172.30.0.0/24 -o br-web -m conntrack --ctstate DNAT " + c + " -j MASQUERADE",
	}

	cat := func(parts ...any) []string {
		var s []string
		for _, p := range parts {
			switch p := p.(type) {
			case string:
				s = append(s, p)
			case []string:
				s = append(s, p...)
			}
		}
		return s
	}
	tests := []struct {
		name string
		n    Network
		want []string
	}{
		{"normal", normal, cat(head, dnat, iccAccept, out, iso, guard, masq, ports)},
		{"unmasked subnet", unmasked, cat(head, dnat, iccAccept, out, iso, guard, masq, ports)},
		{"icc false", noICC, cat(head, dnat,
			"iptables -t filter -A PLUMB-FORWARD -i br-web -o br-web "+c+" -j DROP", out, iso, guard, masq, ports)},
		{"no masquerade", noMasq, cat(head, dnat, iccAccept, out, iso, guard, ports)},
		{"internal", internal, cat(head, iccAccept,
			"iptables -t filter -A PLUMB-FORWARD -i br-web ! -o br-web "+c+" -j DROP",
			"iptables -t filter -A PLUMB-FORWARD ! -i br-web -o br-web "+c+" -j DROP",
			iso)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range Rules(tt.n) {
				got = append(got, r.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRulesCommentAndTargetLast(t *testing.T) {
	// Every rule carries the network comment right before its target, the
	// order iptables-save prints it back in.
	n := testNet("a.b-c_1", "br0", "10.0.0.0/8")
	n.Internal = true
	for _, r := range Rules(n) {
		s := r.Spec
		k := len(s)
		if k < 6 || s[k-2] != "-j" || s[k-3] != "plumb:a.b-c_1" || s[k-4] != "--comment" || s[k-5] != "comment" || s[k-6] != "-m" {
			t.Errorf("rule %v: want ... -m comment --comment plumb:a.b-c_1 -j TARGET", s)
		}
	}
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
