package explain

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
	"github.com/plumbnet/plumb/portmap"
)

// newFakeWorld6 is a host of dual-stack networks, each ya..yu with subnets
// 10.232.7N.0/24 and fd00:232:N::/64: ya (nat, icc), yb (nat), yc
// (icc=false), yi (internal), yr (IPv6 routed), yu (IPv6
// nat-unprotected), ys (IPv6 isolated: no IPv6 gateway). a1 on ya
// publishes 8080:80 on both families and [::1]:9090:80; r1 on yr
// publishes [::]:8081:80. The host has 198.51.100.1 and 2001:db8::1 on
// eth0. Every endpoint but a2 listens on *:80/tcp; the host (the
// daemon's relay) on [::]:8080 when relay is set. With nft, plumb's
// networks are on the nftables backend and iptables holds nothing.
func newFakeWorld6(t *testing.T, nft, relay bool, edit6 func(save string) string) *fakeWorld {
	t.Helper()
	f := &fakeWorld{eps: map[string]*network.Endpoint{}}
	w := &world{byName: map[string]*network.Network{}, byBridge: map[string]*network.Network{},
		byIP: map[netip.Addr]*network.Endpoint{}, brnf: true, brnf6: true, nft: nft,
		hostAddrs: map[netip.Addr]string{netip.MustParseAddr("198.51.100.1"): "eth0", netip.MustParseAddr("2001:db8::1"): "eth0"},
		hostPrefixes: map[netip.Prefix]string{netip.MustParsePrefix("198.51.100.1/24"): "eth0",
			netip.MustParsePrefix("2001:db8::1/64"): "eth0"}}
	for i, n := range []struct {
		name, mode6   string
		icc, internal bool
	}{{"ya", "", true, false}, {"yb", "", true, false}, {"yc", "", false, false}, {"yi", "", true, true},
		{"yr", firewall.ModeRouted, true, false}, {"yu", firewall.ModeNATUnprotected, true, false}, {"ys", firewall.ModeIsolated, true, false}} {
		sub := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 232, byte(70 + i), 0}), 24)
		sub6 := netip.MustParsePrefix("fd00:232:" + string(rune('0'+i)) + "::/64")
		nw := &network.Network{Name: n.name, Bridge: "br-" + n.name, Subnet: sub, Gateway: sub.Addr().Next(),
			Subnet6: sub6, Gateway6: sub6.Addr().Next(), GatewayMode6: n.mode6, ICC: n.icc, Internal: n.internal, Masquerade: true}
		if n.mode6 == firewall.ModeIsolated {
			nw.Gateway6 = netip.Addr{}
		}
		w.nets = append(w.nets, nw)
		w.byName[nw.Name], w.byBridge[nw.Bridge] = nw, nw
	}
	add := func(name, net string, host byte, ports ...portmap.Mapping) {
		p := filepath.Join(t.TempDir(), "ns")
		os.WriteFile(p, nil, 0o644)
		var st syscall.Stat_t
		syscall.Stat(p, &st)
		n := w.byName[net]
		ip := n.Subnet.Addr().As4()
		ip[3] = host
		ip6 := n.Subnet6.Addr().As16()
		ip6[15] = host
		e := &network.Endpoint{ID: name, Network: net, Target: "netns:" + name, NetNS: p, NetNSInode: st.Ino,
			IP: netip.PrefixFrom(netip.AddrFrom4(ip), 24), IP6: netip.PrefixFrom(netip.AddrFrom16(ip6), 64),
			HostVeth: "v-" + name, IfName: "eth0", DefaultRoute: true, DefaultRoute6: true, Ports: ports}
		w.eps = append(w.eps, e)
		w.byIP[e.IP.Addr()], w.byIP[e.IP6.Addr()] = e, e
		f.eps[name] = e
	}
	any6, lo6 := netip.IPv6Unspecified(), netip.IPv6Loopback()
	add("a1", "ya", 2, portmap.Mapping{Proto: "tcp", HostPort: 8080, Port: 80},
		portmap.Mapping{Proto: "tcp", HostIP: any6, HostPort: 8080, Port: 80},
		portmap.Mapping{Proto: "tcp", HostIP: lo6, HostPort: 9090, Port: 80})
	add("a2", "ya", 3)
	add("b1", "yb", 2)
	add("c1", "yc", 2)
	add("c2", "yc", 3)
	add("i1", "yi", 2)
	add("r1", "yr", 2, portmap.Mapping{Proto: "tcp", HostIP: any6, HostPort: 8081, Port: 80})
	add("u1", "yu", 2)
	add("s1", "ys", 2)
	if !nft {
		rs, err := iptables.RulesetFromSave([]byte(saveOfFamily(w.nets, w.eps, false)))
		if err != nil {
			t.Fatal(err)
		}
		save6 := saveOfFamily(w.nets, w.eps, true)
		if edit6 != nil {
			save6 = edit6(save6)
		}
		if err := rs.AddSave6([]byte(save6)); err != nil {
			t.Fatal(err)
		}
		w.rules = rs
	}
	w.listening = func(ns string) ([]nsview.Socket, error) {
		switch {
		case ns == hostNS && relay:
			return []nsview.Socket{{Proto: "tcp6", Local: netip.MustParseAddrPort("[::]:8080"), PID: 1, Command: "plumb"}}, nil
		case ns == hostNS, ns == f.eps["a2"].NetNS:
			return nil, nil
		}
		return []nsview.Socket{{Proto: "tcp6", Local: netip.MustParseAddrPort("[::]:80")}}, nil
	}
	f.w = w
	return f
}

// TestVerdicts6 follows IPv6 packets on both backends: each case's
// verdict, and the rule or element that decides it.
func TestVerdicts6(t *testing.T) {
	const hostIP = "2001:db8::1"
	a1, r1 := "fd00:232:0::2", "fd00:232:4::2"
	dropNAT6 := func(s string) string {
		return strings.Replace(s, "-A PLUMB-FORWARD ! -i br-ya -o br-ya -m comment --comment plumb:ya -j DROP\n", "", 1)
	}
	for _, c := range []struct {
		name, src, dst string
		port           uint16
		edit6          func(string) string
		routed         bool
		verdict, says  string
		ipt, nft       string // the rule or element each backend names
		drift          bool
	}{
		{"same network, icc", "a2", a1, 80, nil, false, Reachable, "within network ya (icc)",
			"ip6tables -t filter -A PLUMB-FORWARD -i br-ya -o br-ya", `@icc { "br-ya" . "br-ya"`, false},
		{"icc=false", "c2", "fd00:232:2::2", 80, nil, false, Blocked, "--icc=false", "bridge link set dev v-c1 isolated on", "bridge link set dev v-c1 isolated on", false},
		{"isolation between networks", "b1", a1, 80, nil, true, Blocked, "isolated from each other",
			"ip6tables -t filter -A PLUMB-ISOLATION-2 -o br-ya", `@bridges { "br-ya"`, false},
		{"into an internal network from outside", "outside", "fd00:232:3::2", 80, nil, false, Blocked, "--internal",
			"ip6tables -t filter -A PLUMB-FORWARD ! -i br-yi -o br-yi -m comment", `@internal_bridges { "br-yi"`, false},
		{"published port from outside", "outside", hostIP, 8080, nil, false, Reachable, "DNAT to [fd00:232::2]:80",
			"--to-destination [fd00:232::2]:80", `@ports6 { tcp . 8080`, false},
		{"published port from outside: the forward accept", "outside", hostIP, 8080, nil, false, Reachable, "a published port of network ya",
			"ip6tables -t filter -A PLUMB-FORWARD ! -i br-ya -o br-ya -m conntrack --ctstate DNAT", "ct status dnat accept", false},
		{"[::1]-only published port from outside", "outside", hostIP, 9090, nil, false, NoListener, "published on [::1] only", "", "", false},
		{"nat: a container's own address from outside", "outside", a1, 80, nil, false, Blocked, "IPv6 gateway mode is nat",
			"-A PLUMB-FORWARD ! -i br-ya -o br-ya -m comment --comment plumb:ya -j DROP", `@protected_families { "br-ya" . ipv6`, false},
		{"routed: a published container port from outside", "outside", r1, 80, nil, false, Reachable, "reached at the container's own address",
			"-A PLUMB-ROUTED -d fd00:232:4::2/128 -o br-yr -p tcp", `@published6 { fd00:232:4::2 . tcp . 80`, false},
		{"routed: an unpublished port from outside", "outside", r1, 81, nil, false, Blocked, "IPv6 gateway mode is routed",
			"-A PLUMB-FORWARD ! -i br-yr -o br-yr -m comment --comment plumb:yr -j DROP", `@protected_families { "br-yr" . ipv6`, false},
		{"nat-unprotected from outside", "outside", "fd00:232:5::2", 80, nil, false, Reachable, "nat-unprotected",
			"-A PLUMB-FORWARD ! -i br-yu -o br-yu -m comment --comment plumb:yu -j ACCEPT", "no element of it in @protected_families", false},
		{"isolated from outside", "outside", "fd00:232:6::2", 80, nil, false, Blocked, "IPv6 gateway mode is isolated",
			"-A PLUMB-FORWARD ! -i br-ys -o br-ys -m comment --comment plumb:ys -j DROP", `@isolated_families { "br-ys" . ipv6`, false},
		{"hairpin", "a1", hostIP, 8080, nil, true, Reachable, "hairpin within ya",
			"ip6tables -t nat -A PLUMB-POSTROUTING -s fd00:232::/64 -o br-ya -m conntrack", `@nat_subnets6 { "br-ya" . fd00:232::-fd00:232::ffff:ffff:ffff:ffff`, false},
		{"plumb's IPv6 drop missing", "outside", a1, 80, dropNAT6, false, Blocked, "FORWARD's policy is DROP and plumb's rule that accepts", "[MISSING in the kernel]", "", true},
	} {
		for _, nft := range []bool{false, true} {
			want := c.ipt
			if nft {
				want = c.nft
				if c.edit6 != nil {
					continue // drift is the iptables reading's
				}
			}
			name := c.name + map[bool]string{false: " (iptables)", true: " (nftables)"}[nft]
			t.Run(name, func(t *testing.T) {
				f := newFakeWorld6(t, nft, false, c.edit6)
				x := f.run(c.src, c.dst, c.port)
				switch e := f.eps[c.src]; {
				case e == nil:
					x.atHost("eth0", nil, netip.MustParseAddr("2001:db8::2"))
				case c.routed:
					x.fromEndpoint(e, nsview.Route{Dev: "eth0", Gateway: f.w.byName[e.Network].Gateway6})
				default:
					x.fromEndpoint(e, nsview.Route{Dev: "eth0"})
				}
				x.r.decide(Reachable, "")
				text := strings.Join(append(stepTexts(x.r), x.r.Reason), "\n")
				t.Logf("%s: %s\n%s", x.r.Verdict, x.r.Reason, text)
				if x.r.Verdict != c.verdict || !strings.Contains(text, c.says) || !strings.Contains(text, want) || (len(x.r.Drift) > 0) != c.drift {
					t.Errorf("verdict %q, drift %v; want %q, drift %v, saying %q and %q:\n%s", x.r.Verdict, x.r.Drift, c.verdict, c.drift, c.says, want, text)
				}
			})
		}
	}
}

// saveOfFamily is the iptables-save (v6: ip6tables-save) text of plumb's
// rules of one family for nets and eps, FORWARD's policy DROP.
func saveOfFamily(nets []*network.Network, eps []*network.Endpoint, v6 bool) string {
	var rules []iptables.Rule
	byName := map[string]*network.Network{}
	for _, n := range nets {
		byName[n.Name] = n
		rules = append(rules, iptables.Rules(n.Firewall())...)
	}
	for _, e := range eps {
		rules = append(rules, iptables.PortRulesOn(byName[e.Network].Firewall(), e.ID, e.FirewallPorts())...)
	}
	var mine []iptables.Rule
	for _, r := range rules {
		if r.V6 == v6 {
			mine = append(mine, r)
		}
	}
	bin := "iptables"
	if v6 {
		bin = "ip6tables"
	}
	var b strings.Builder
	for _, table := range []string{iptables.TableFilter, iptables.TableNAT} {
		b.WriteString("*" + table + "\n")
		builtins := map[string][]string{iptables.TableFilter: {"INPUT", "FORWARD", "OUTPUT"},
			iptables.TableNAT: {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}}[table]
		for _, c := range builtins {
			pol := "ACCEPT"
			if c == "FORWARD" {
				pol = "DROP"
			}
			b.WriteString(":" + c + " " + pol + " [0:0]\n")
		}
		seen := map[string]bool{}
		for _, r := range mine {
			if r.Table == table && !seen[r.Chain] {
				seen[r.Chain] = true
				b.WriteString(":" + r.Chain + " - [0:0]\n")
			}
		}
		if table == iptables.TableFilter {
			b.WriteString("-A FORWARD -m comment --comment \"plumb\" -j " + iptables.ChainForward + "\n")
		}
		for _, r := range mine {
			if r.Table == table {
				b.WriteString(strings.TrimPrefix(r.String(), bin+" -t "+table+" ") + "\n")
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

// TestRelay6: the host's own [::1]:PORT of an IPv6 published port is the
// daemon's relay's, not a DNAT: reachable while the daemon holds the
// port, no listener when it does not.
func TestRelay6(t *testing.T) {
	for _, relay := range []bool{true, false} {
		for _, nft := range []bool{false, true} {
			f := newFakeWorld6(t, nft, relay, nil)
			x := f.run("", "::1", 8080)
			x.src.host = true
			if !x.published(true, "", nil, netip.IPv6Loopback()) {
				t.Fatalf("relay %v: [::1]:8080 is not found published", relay)
			}
			x.r.decide(Reachable, "")
			text := strings.Join(append(stepTexts(x.r), x.r.Reason), "\n")
			want, says := Reachable, "plumb's daemon relays it to [fd00:232::2]:80"
			if !relay {
				want, says = NoListener, "relays IPv6 loopback ports, and it is not running"
			}
			if x.r.Verdict != want || !strings.Contains(text, says) || strings.Contains(text, "→ DNAT") {
				t.Errorf("relay %v, nft %v: verdict %q, want %q saying %q:\n%s", relay, nft, x.r.Verdict, want, says, text)
			}
		}
	}
}

// TestMasquerade6: leaving the host, IPv6 is NAT66'd in mode nat and keeps
// the container's source in mode routed, on both backends.
func TestMasquerade6(t *testing.T) {
	for _, nft := range []bool{false, true} {
		f := newFakeWorld6(t, nft, false, nil)
		for net, want := range map[string]string{
			"ya": "the source becomes 2001:db8::1",
			"yr": "IPv6 gateway mode is routed; the source stays the container's, so the far side needs a route to fd00:232:4::/64",
		} {
			x := f.run("", "2001:db8::2", 80)
			x.masquerade(f.w.byName[net], "eth0", netip.MustParseAddr("2001:db8::1"))
			text := strings.Join(stepTexts(x.r), "\n")
			rule := "ip6tables -t nat -A PLUMB-POSTROUTING -s fd00:232::/64 ! -o br-ya"
			if nft {
				rule = `@masquerade6_bridges { "br-ya"`
			}
			if !strings.Contains(text, want) || (net == "ya" && !strings.Contains(text, rule)) {
				t.Errorf("nft %v, %s: want %q (and %q):\n%s", nft, net, want, rule, text)
			}
		}
	}
}

func TestLookupHosts6(t *testing.T) {
	hosts := []byte("::1 localhost ip6-localhost\nfd00::2 web\n10.0.0.2 web\nfd00::3 six\n")
	for _, c := range []struct {
		name string
		v6   bool
		want string
	}{{"web", false, "10.0.0.2"}, {"web", true, "fd00::2"}, {"six", false, "fd00::3"}, {"six", true, "fd00::3"}, {"ip6-localhost", false, "::1"}} {
		a, ok := lookupHosts(hosts, c.name, c.v6)
		if !ok || a.String() != c.want {
			t.Errorf("lookupHosts(%s, v6 %v) = %v, %v; want %s", c.name, c.v6, a, ok, c.want)
		}
	}
	if a, ok := lookupHosts([]byte("10.0.0.2 four\n"), "four", true); ok {
		t.Errorf("an IPv4-only name gives %v with v6", a)
	}
}

func TestRecordAddr6(t *testing.T) {
	dual := control.Record{Network: "n", Name: "web", IP: "10.0.0.2", IP6: "fd00::2"}
	only6 := control.Record{Network: "n", Name: "six", IP6: "fd00::3"}
	only4 := control.Record{Network: "n", Name: "four", IP: "10.0.0.4"}
	for _, c := range []struct {
		rec   control.Record
		want6 bool
		want  string
	}{{dual, false, "10.0.0.2"}, {dual, true, "fd00::2"}, {only6, false, "fd00::3"}, {only4, false, "10.0.0.4"}} {
		x := &run{want6: c.want6}
		if a, err := x.recordAddr(c.rec); err != nil || a.String() != c.want {
			t.Errorf("recordAddr(%+v, v6 %v) = %v, %v; want %s", c.rec, c.want6, a, err, c.want)
		}
	}
	x := &run{want6: true}
	if _, err := x.recordAddr(only4); err == nil || !strings.Contains(err.Error(), `"four" has no IPv6 address`) {
		t.Errorf("an IPv4-only record with -6: %v", err)
	}
}
