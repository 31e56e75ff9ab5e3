package explain

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
	"github.com/plumbnet/plumb/portmap"
)

// fakeWorld is a host with networks xa, xb (icc), xc (icc=false) and xi
// (internal), one or two endpoints on each, the host address
// 198.51.100.1 on eth0, and the kernel's rules exactly as plumb renders
// them (iptables-save text through RulesetFromSave).
type fakeWorld struct {
	w   *world
	eps map[string]*network.Endpoint
}

func newFakeWorld(t *testing.T, edit func(save string) string) *fakeWorld {
	t.Helper()
	f := &fakeWorld{eps: map[string]*network.Endpoint{}}
	w := &world{byName: map[string]*network.Network{}, byBridge: map[string]*network.Network{},
		byIP: map[netip.Addr]*network.Endpoint{}, brnf: true,
		hostAddrs:    map[netip.Addr]string{netip.MustParseAddr("198.51.100.1"): "eth0"},
		hostPrefixes: map[netip.Prefix]string{netip.MustParsePrefix("198.51.100.1/24"): "eth0"}}
	for i, n := range []struct {
		name          string
		icc, internal bool
	}{{"xa", true, false}, {"xb", true, false}, {"xc", false, false}, {"xi", true, true}} {
		sub := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 231, byte(70 + i), 0}), 24)
		nw := &network.Network{Name: n.name, Bridge: "br-" + n.name, Subnet: sub, Gateway: sub.Addr().Next(),
			ICC: n.icc, Internal: n.internal, Masquerade: true}
		w.nets = append(w.nets, nw)
		w.byName[nw.Name], w.byBridge[nw.Bridge] = nw, nw
	}
	add := func(name, net string, ip string, ports ...portmap.Mapping) {
		// A real file, so that Alive (a stat of the recorded inode) holds.
		p := filepath.Join(t.TempDir(), "ns")
		os.WriteFile(p, nil, 0o644)
		var st syscall.Stat_t
		syscall.Stat(p, &st)
		e := &network.Endpoint{ID: name, Network: net, Target: "netns:" + name, NetNS: p, NetNSInode: st.Ino,
			IP: netip.MustParsePrefix(ip + "/24"), HostVeth: "v-" + name, IfName: "eth0", DefaultRoute: true, Ports: ports}
		w.eps = append(w.eps, e)
		w.byIP[e.IP.Addr()] = e
		f.eps[name] = e
	}
	add("a1", "xa", "10.231.70.2",
		portmap.Mapping{Proto: "tcp", HostPort: 8080, Port: 80},
		portmap.Mapping{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9090, Port: 80})
	add("a2", "xa", "10.231.70.3")
	add("b1", "xb", "10.231.71.2")
	add("c1", "xc", "10.231.72.2")
	add("c2", "xc", "10.231.72.3")
	add("i1", "xi", "10.231.73.2")
	save := saveOf(w.nets, w.eps)
	if edit != nil {
		save = edit(save)
	}
	rs, err := iptables.RulesetFromSave([]byte(save))
	if err != nil {
		t.Fatal(err)
	}
	w.rules = rs
	// Only a1 listens: on *:80/tcp.
	w.listening = func(ns string) ([]nsview.Socket, error) {
		if ns == f.eps["a1"].NetNS {
			return []nsview.Socket{{Proto: "tcp", Local: netip.MustParseAddrPort("0.0.0.0:80")}}, nil
		}
		return nil, nil
	}
	f.w = w
	return f
}

// saveOf is the iptables-save text of plumb's rules for nets and eps.
func saveOf(nets []*network.Network, eps []*network.Endpoint) string {
	var rules []iptables.Rule
	for _, n := range nets {
		rules = append(rules, iptables.Rules(n.Firewall())...)
	}
	for _, e := range eps {
		rules = append(rules, iptables.PortRules(e.Network, e.ID, e.FirewallPorts())...)
	}
	var b strings.Builder
	for _, table := range []string{iptables.TableFilter, iptables.TableNAT} {
		b.WriteString("*" + table + "\n")
		builtins := map[string][]string{iptables.TableFilter: {"INPUT", "FORWARD", "OUTPUT"},
			iptables.TableNAT: {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}}[table]
		for _, c := range builtins {
			pol := "ACCEPT"
			if c == "FORWARD" {
				pol = "DROP" // as Docker leaves it
			}
			b.WriteString(":" + c + " " + pol + " [0:0]\n")
		}
		seen := map[string]bool{}
		for _, r := range rules {
			if r.Table == table && !seen[r.Chain] {
				seen[r.Chain] = true
				b.WriteString(":" + r.Chain + " - [0:0]\n")
			}
		}
		if table == iptables.TableFilter {
			b.WriteString("-A FORWARD -m comment --comment \"plumb\" -j " + iptables.ChainForward + "\n")
		}
		for _, r := range rules {
			if r.Table == table {
				b.WriteString(strings.TrimPrefix(r.String(), "iptables -t "+table+" ") + "\n")
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

func (f *fakeWorld) run(src string, dst string, port uint16) *run {
	s := &source{spec: "netns:" + src, nsPath: "/nonexistent"}
	if e := f.eps[src]; e != nil {
		s.eps = []*network.Endpoint{e}
	}
	return &run{w: f.w, r: &Report{}, src: s, dst: netip.MustParseAddr(dst), port: port, proto: "tcp"}
}

func TestVerdicts(t *testing.T) {
	dropJump := func(s string) string {
		return strings.Replace(s, "-A FORWARD -m comment --comment \"plumb\" -j PLUMB-FORWARD\n", "", 1)
	}
	belowDrop := func(s string) string {
		return strings.Replace(s, "-A FORWARD -m comment --comment \"plumb\" -j PLUMB-FORWARD\n", "-A FORWARD -m comment --comment \"plumb\" -j PLUMB-FORWARD\n-A FORWARD -o br-xa -j DROP\n", 1)
	}
	inputDrop := func(s string) string { return strings.Replace(s, ":INPUT ACCEPT", ":INPUT DROP", 1) }
	// route: how SRC's packet leaves: bridged (no gateway) or via its
	// network's gateway; "outside": it arrives on the host's eth0.
	for _, c := range []struct {
		name, src, dst string
		port           uint16
		edit           func(string) string
		routed         bool
		verdict, says  string
		drift          bool
	}{
		{"same network, icc", "a2", "10.231.70.2", 0, nil, false, Reachable, "within network xa (icc)", false},
		{"icc=false", "c2", "10.231.72.2", 0, nil, false, Blocked, "--icc=false", false},
		{"isolation between networks", "b1", "10.231.70.2", 0, nil, true, Blocked, "isolated from each other", false},
		{"into an internal network from outside", "outside", "10.231.73.2", 0, nil, false, Blocked, "--internal", false},
		{"published port from outside", "outside", "198.51.100.1", 8080, nil, false, Reachable, "DNAT to 10.231.70.2:80", false},
		{"loopback-only published port from outside", "outside", "198.51.100.1", 9090, nil, false, NoListener, "published on loopback only", false},
		// As in Docker: the isolation rules come before the DNAT accept.
		{"published port across networks", "b1", "198.51.100.1", 8080, nil, true, Blocked, "isolated from each other", false},
		{"foreign DROP below plumb's jump", "outside", "10.231.70.2", 0, belowDrop, false, Blocked, "below plumb's jump", false},
		{"FORWARD's policy when nothing decides", "outside", "10.231.70.2", 0, nil, false, Blocked, "FORWARD's policy is DROP", false},
		{"the host, INPUT policy DROP", "outside", "198.51.100.1", 0, inputDrop, false, Blocked, "INPUT's policy is DROP", false},
		{"plumb's jump missing", "a2", "10.231.70.2", 0, dropJump, false, Blocked, "PLUMB-FORWARD is missing", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeWorld(t, c.edit)
			x := f.run(c.src, c.dst, c.port)
			switch e := f.eps[c.src]; {
			case e == nil:
				x.atHost("eth0", nil, netip.MustParseAddr("198.51.100.2"))
			case c.routed:
				x.fromEndpoint(e, nsview.Route{Dev: "eth0", Gateway: f.w.byName[e.Network].Gateway})
			default:
				x.fromEndpoint(e, nsview.Route{Dev: "eth0"})
			}
			x.r.decide(Reachable, "") // as Explain does at the end
			text := strings.Join(append(stepTexts(x.r), x.r.Reason), "\n")
			if x.r.Verdict != c.verdict || !strings.Contains(text, c.says) || (len(x.r.Drift) > 0) != c.drift {
				t.Errorf("verdict %q, drift %v; want %q, drift %v, saying %q:\n%s", x.r.Verdict, x.r.Drift, c.verdict, c.drift, c.says, text)
			}
		})
	}
}

func stepTexts(r *Report) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Detail+" → "+s.Result+" | "+s.Rule)
	}
	return out
}
