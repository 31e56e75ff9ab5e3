package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

func testNet(name, br, subnet string) firewall.Network {
	return firewall.Network{Name: name, Bridge: br, Subnet: netip.MustParsePrefix(subnet), ICC: true, Masquerade: true}
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
		n    firewall.Network
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
