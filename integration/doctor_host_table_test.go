package integration

import (
	"strings"

	"github.com/plumbnet/plumb/doctor"
	"github.com/plumbnet/plumb/network"
)

const (
	published = "198.51.100.1:8080" // web's published port, on the host's address facing outside
	outsider  = "198.51.100.2:8080" // the outside namespace's listener
)

// docCases are the host problems of issue 13 section 2, each on a host
// namespace with network web (10.94.0.0/24).
var docCases = []docCase{
	{name: "FORWARD policy DROP, plumb's jump missing", setup: withTarget,
		inject: func(d *docHost) { d.shell("iptables -P FORWARD DROP && iptables -D FORWARD 1") },
		check:  "forward-jump", sev: doctor.Problem, owned: true,
		broken: func(d *docHost) { reaches(d, d.out, published, false) },
		after:  func(d *docHost) { reaches(d, d.out, published, true) }},
	{name: "plumb's jump below rules that stop nothing of plumb's",
		inject: func(d *docHost) {
			d.shell("iptables -N HC-USER && iptables -A HC-USER -j RETURN && iptables -I FORWARD 1 -j HC-USER && " +
				"iptables -I FORWARD 1 -m conntrack --ctstate INVALID -j DROP && iptables -I FORWARD 1 -i hc-nowhere -j DROP")
		},
		check: "forward-jump", sev: doctor.Note, owned: true, absent: []string{"forward-rule"}},
	{name: "a DOCKER-USER drop of the bridge above plumb's jump", setup: withTarget,
		inject: func(d *docHost) {
			d.shell("iptables -N DOCKER-USER && iptables -A DOCKER-USER -i " + d.br + " -j DROP && iptables -A DOCKER-USER -j RETURN && iptables -I FORWARD 1 -j DOCKER-USER")
		},
		check: "forward-rule", sev: doctor.Problem, absent: []string{"forward-jump"},
		broken: func(d *docHost) { reaches(d, d.fwd, outsider, false) },
		fixHas: "iptables -D DOCKER-USER -i PB -j DROP", apply: 0,
		after: func(d *docHost) { reaches(d, d.fwd, outsider, true) }},
	{name: "a FORWARD reject of the bridge above plumb's jump, moved below it",
		inject: func(d *docHost) { d.shell("iptables -I FORWARD 1 -o " + d.br + " -j REJECT") },
		check:  "forward-rule", sev: doctor.Problem, fixHas: "iptables -I FORWARD 2 -o PB -j REJECT", apply: 1,
		after: func(d *docHost) {
			if rules := d.shell("iptables -S FORWARD"); !strings.Contains(rules, "-A FORWARD -o "+d.br+" -j REJECT") {
				d.t.Errorf("the moved rule is gone:\n%s", rules)
			}
		}},
	{name: "a port drop naming the bridge", apply: -1,
		inject: func(d *docHost) { d.shell("iptables -I FORWARD 1 -o " + d.br + " -p tcp --dport 80 -j DROP") },
		check:  "forward-rule", sev: doctor.Note, fixHas: "iptables -D FORWARD -o PB -p tcp -m tcp --dport 80 -j DROP"},
	{name: "iptables-legacy holds rules beside iptables-nft", apply: -1,
		inject: func(d *docHost) { d.shell("iptables-legacy -P FORWARD DROP") },
		check:  "iptables-split", sev: doctor.Problem, fixHas: "iptables-legacy-save"},
	{name: "ip_forward off", setup: withTarget,
		inject: func(d *docHost) { d.shell("sysctl -qw net.ipv4.ip_forward=0") },
		check:  "ip-forward", sev: doctor.Problem, owned: true,
		broken: func(d *docHost) { reaches(d, d.out, published, false) },
		after: func(d *docHost) {
			reaches(d, d.out, published, true)
			if got := readHostJSON(d.t, d); !strings.Contains(got, `"ipForwardChanged":true`) {
				d.t.Errorf("host.json after --fix: %q, want plumb's change recorded", got)
			}
		}},
	{name: "route_localnet off on the bridge", setup: withTarget,
		inject: func(d *docHost) { d.shell("sysctl -qw net.ipv4.conf." + d.br + ".route_localnet=0") },
		check:  "route-localnet", sev: doctor.Problem, owned: true,
		broken: func(d *docHost) { reaches(d, d.ns, "127.0.0.1:8080", false) },
		after:  func(d *docHost) { reaches(d, d.ns, "127.0.0.1:8080", true) }},
	{name: "strict rp_filter with one network per target breaks nothing", setup: withTarget,
		inject: func(d *docHost) { d.shell("sysctl -qw net.ipv4.conf.all.rp_filter=1") },
		absent: []string{"rp-filter"},
		after: func(d *docHost) {
			reaches(d, d.out, published, true)
			reaches(d, d.fwd, "10.94.0.1:8080", true) // hairpin
		}},
	{name: "strict rp_filter, a target publishing on its second network",
		setup: func(d *docHost) {
			d.must("network", "create", "two", "--subnet", "10.95.0.0/24")
			d.fwd = target(d.t)
			d.must("attach", "netns:"+d.fwd, "--net", "web")
			d.must("attach", "netns:"+d.fwd, "--net", "two", "-p", "8080:80")
			serve(d.t, d.fwd, 80, "c")
			d.out, _ = outside(d.t, d.host)
		},
		inject: func(d *docHost) { d.shell("sysctl -qw net.ipv4.conf.all.rp_filter=1") },
		check:  "rp-filter", sev: doctor.Problem, fixHas: "rp_filter=2", apply: 0,
		broken: func(d *docHost) {
			reaches(d, d.out, published, false)
			reaches(d, d.ns, "127.0.0.1:8080", true)
		},
		after: func(d *docHost) { reaches(d, d.out, published, true) }},
	{name: "a route inside the subnet (a VPN came up)", apply: 0,
		inject: func(d *docHost) {
			d.shell("ip link add hcvpn0 type bridge && ip link set hcvpn0 up && ip route add 10.94.0.128/25 dev hcvpn0")
		},
		check: "subnet-overlap", sev: doctor.Problem, fixHas: "ip route del 10.94.0.128/25 dev hcvpn0"},
	{name: "a route holding the subnet", apply: 0,
		inject: func(d *docHost) {
			d.shell("ip link add hcvpn0 type bridge && ip link set hcvpn0 up && ip route add 10.0.0.0/8 dev hcvpn0")
		},
		check: "subnet-overlap", sev: doctor.Problem, fixHas: "ip route del 10.0.0.0/8 dev hcvpn0"},
	{name: "a second route to the subnet", apply: 0,
		inject: func(d *docHost) {
			d.shell("ip link add hcvpn0 type bridge && ip link set hcvpn0 up && ip route add 10.94.0.0/24 dev hcvpn0 metric 100")
		},
		check: "subnet-overlap", sev: doctor.Problem, fixHas: "ip route del 10.94.0.0/24 dev hcvpn0"},
	{name: "an address in the subnet", apply: 0,
		inject: func(d *docHost) {
			d.shell("ip link add hcvpn0 type bridge && ip link set hcvpn0 up && ip addr add 10.94.0.200/24 dev hcvpn0")
		},
		check: "subnet-overlap", sev: doctor.Problem, fixHas: "ip addr del 10.94.0.200/24 dev hcvpn0"},
	{name: "a guard element no network has",
		inject: func(d *docHost) { d.shell(`nft add element inet plumb localnet_bridges '{ "pb-stray0" }'`) },
		check:  "stray-guard", sev: doctor.Problem, owned: true,
		after: func(d *docHost) {
			if set := d.shell("nft list set inet plumb localnet_bridges"); strings.Contains(set, "pb-stray0") || !strings.Contains(set, d.br) {
				d.t.Errorf("set after --fix:\n%s\nwant %s alone", set, d.br)
			}
		}},
	{name: "a guard element of a leftover bridge with route_localnet on", apply: -1,
		inject: func(d *docHost) {
			d.shell(`ip link add pb-left0 type bridge && sysctl -qw net.ipv4.conf.pb-left0.route_localnet=1 && nft add element inet plumb localnet_bridges '{ "pb-left0" }'`)
		},
		check: "stray-guard", sev: doctor.Problem, fixHas: "ip link del pb-left0",
		after: func(d *docHost) {
			d.shell("ip link del pb-left0")
			fs := find(d.examine(), "stray-guard")
			if len(fs) != 1 || !fs[0].Owned {
				d.t.Fatalf("once the link is gone, want an owned stray-guard, got %d", len(fs))
			}
			d.fix(fs)
			if set := d.shell("nft list set inet plumb localnet_bridges"); strings.Contains(set, "pb-left0") {
				d.t.Errorf("set after --fix:\n%s", set)
			}
		}},
	{name: "br_netfilter off: a note", apply: -1,
		inject: func(d *docHost) { d.shell("sysctl -qw net.bridge.bridge-nf-call-iptables=0") },
		check:  "br-netfilter", sev: doctor.Note, fixHas: "nothing to do"},
}

// The bridge's name in the cases' expected text.
func init() {
	for i := range docCases {
		docCases[i].fixHas = strings.ReplaceAll(docCases[i].fixHas, "PB", network.BridgeName("web"))
	}
}
