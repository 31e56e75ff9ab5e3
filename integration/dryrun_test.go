package integration

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/network"
)

// TestPrivilegedDryRun runs each of network create, attach (with a
// published port), detach and network rm with --dry-run in host A (then
// network rm --force of a network with a published endpoint beside
// another network, and network rm of the last two at once), checks
// that A did not change, runs the printed script with bash in host B
// (pointed at B's state dir and B's target), then runs the real command
// in A and checks that A and B are alike: links (kind, flags, MTU, MAC,
// master, addresses, the bridge's sysctls), the target's links and routes,
// iptables-save (counters aside), plumb's nftables table, the state files
// and the target's hosts and resolv.conf.
func TestPrivilegedDryRun(t *testing.T) {
	dryRunSteps(t, func(xa string) [][]string {
		return [][]string{
			{"network", "create", "dn", "--subnet", "10.123.0.0/24"},
			{"attach", "netns:" + xa, "--net", "dn", "-p", "8080:80"},
			{"detach", "netns:" + xa, "--net", "dn"},
			{"network", "rm", "dn"},
			{"network", "create", "dn", "--subnet", "10.123.0.0/24"},
			{"network", "create", "dm", "--subnet", "10.124.0.0/24"},
			{"attach", "netns:" + xa, "--net", "dn", "-p", "8080:80"},
			{"network", "rm", "--force", "dn"},
			{"network", "create", "dn", "--subnet", "10.123.0.0/24"},
			{"network", "rm", "dn", "dm"},
		}
	})
}

// TestPrivilegedDryRunIPv6 is TestPrivilegedDryRun for a dual-stack and
// an IPv6-only network: the IPv6 addresses, routes, sysctls and rules
// the script makes are the real command's.
func TestPrivilegedDryRunIPv6(t *testing.T) {
	dryRunSteps(t, func(xa string) [][]string {
		return [][]string{
			{"network", "create", "d6", "--ipv6", "--subnet", "10.123.6.0/24", "--subnet", "fd00:123:6::/64"},
			{"attach", "netns:" + xa, "--net", "d6", "-p", "8080:80", "--alias", "six"},
			{"detach", "netns:" + xa, "--net", "d6"},
			{"network", "create", "o6", "--ipv6", "--ipv4=false", "--subnet", "fd00:123:7::/64"},
			{"attach", "netns:" + xa, "--net", "o6", "-p", "[::]:8081:81"},
			{"network", "rm", "--force", "o6"},
			{"network", "rm", "d6"},
		}
	})
}

// dryRunSteps runs each step of steps (made for host A's target) with
// --dry-run in host A, checks A did not change, runs the printed script
// in host B, runs the real step in A and checks A and B are alike.
func dryRunSteps(t *testing.T, steps func(xa string) [][]string) {
	a, b := newHost(t), newHost(t)
	xa, xb := target(t), target(t)
	t.Cleanup(func() { os.RemoveAll("/etc/netns/" + xa); os.RemoveAll("/etc/netns/" + xb) })
	subst := strings.NewReplacer(a.state, b.state, "/var/run/netns/"+xa, "/var/run/netns/"+xb, "/etc/netns/"+xa, "/etc/netns/"+xb)
	for _, args := range steps(xa) {
		before := dryView(t, a, xa)
		script := a.must(append(args, "--dry-run")...)
		if after := dryView(t, a, xa); after != before {
			t.Fatalf("plumb %s --dry-run changed host A:\n%s", strings.Join(args, " "), diffLines(before, after))
		}
		runScript(t, b, subst.Replace(script))
		a.must(args...)
		a.waitReaped()
		va, vb := dryView(t, a, xa), dryView(t, b, xb)
		if va != strings.ReplaceAll(vb, xb, xa) {
			t.Fatalf("after plumb %s, the script's host B differs from host A:\n%s\nscript:\n%s",
				strings.Join(args, " "), diffLines(va, strings.ReplaceAll(vb, xb, xa)), script)
		}
	}
}

// TestPrivilegedDryRunFault fails each step of a dry-run network create,
// attach and detach in turn (PLUMB_INJECT_FAULT): each fails, and the
// host, its state directory and the target are as they were.
func TestPrivilegedDryRunFault(t *testing.T) {
	a, x := newHost(t), target(t)
	t.Cleanup(func() { os.RemoveAll("/etc/netns/" + x) })
	a.must("network", "create", "df", "--subnet", "10.125.0.0/24")
	a.must("network", "create", "dg", "--subnet", "10.126.0.0/24")
	a.must("attach", "netns:"+x, "--net", "dg", "-p", "8081:81")
	a.waitReaped()
	cases := []struct {
		kind string
		args []string
	}{
		{"create", []string{"network", "create", "dz", "--subnet", "10.127.0.0/24"}},
		{"attach", []string{"attach", "netns:" + x, "--net", "df", "-p", "8082:82"}},
		{"detach", []string{"detach", "netns:" + x, "--net", "dg"}},
	}
	for _, c := range cases {
		for _, step := range stepNames(t, c.kind) {
			before := dryView(t, a, x)
			out, err := a.command([]string{"PLUMB_INJECT_FAULT=" + step}, append(c.args, "--dry-run")...).CombinedOutput()
			if err == nil {
				t.Errorf("%s --dry-run with a fault at %s succeeded:\n%s", c.kind, step, out)
			}
			if after := dryView(t, a, x); after != before {
				t.Fatalf("%s --dry-run failing at %s changed host A:\n%s", c.kind, step, diffLines(before, after))
			}
		}
	}
}

// stepNames are network.StepNames(kind), as the fault hook names them.
func stepNames(t *testing.T, kind string) []string {
	t.Helper()
	names := network.StepNames(kind)
	if len(names) == 0 {
		t.Fatalf("no steps of %s", kind)
	}
	return names
}

// TestPrivilegedDryRunBadInput: a bad value with --dry-run is one line
// naming it and exit 1, as without.
func TestPrivilegedDryRunBadInput(t *testing.T) {
	a := newHost(t)
	out, err := a.run("network", "create", "bad", "--subnet", "10.1.2.300/24", "--dry-run")
	var ee *exec.ExitError
	if !asExit(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want 1; output %q", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(out, "10.1.2.300/24") {
		t.Fatalf("want one line naming the subnet, got %q", out)
	}
	if _, err := os.Stat(filepath.Join(a.state, "networks")); err == nil {
		t.Fatalf("a dry run made %s/networks", a.state)
	}
}

// runScript runs script with bash -e in h's namespace.
func runScript(t *testing.T, h *host, script string) {
	t.Helper()
	c := exec.Command("ip", "netns", "exec", h.ns, "bash", "-e")
	c.Stdin = strings.NewReader(script)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("running the printed script in host B: %v\n%s\nscript:\n%s", err, out, script)
	}
}

var (
	counterRE = regexp.MustCompile(`\[\d+:\d+\]`)
	nftCounts = regexp.MustCompile(`packets \d+ bytes \d+`)
	cookieRE  = regexp.MustCompile(`ns-\d+`)
)

// dryView is what the test compares of host h and its target x.
func dryView(t *testing.T, h *host, x string) string {
	t.Helper()
	var v strings.Builder
	ipt, err := h.sh("iptables-save")
	if err != nil {
		t.Fatalf("iptables-save: %v\n%s", err, ipt)
	}
	for _, l := range strings.Split(ipt, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			v.WriteString("ipt " + counterRE.ReplaceAllString(l, "") + "\n")
		}
	}
	ip6t, _ := h.sh("ip6tables-save")
	for _, l := range strings.Split(ip6t, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			v.WriteString("ip6t " + counterRE.ReplaceAllString(l, "") + "\n")
		}
	}
	fwd, _ := h.sh("sysctl", "-n", "net.ipv4.ip_forward")
	v.WriteString("ip_forward " + fwd)
	fwd6, _ := h.sh("sysctl", "-n", "net.ipv6.conf.all.forwarding")
	v.WriteString("ipv6 forwarding " + fwd6)
	nft, _ := h.sh("nft", "list", "table", "inet", "plumb")
	v.WriteString("nft " + nftCounts.ReplaceAllString(nft, "") + "\n")
	v.WriteString(dryLinks(t, "ip", "netns", "exec", h.ns))
	v.WriteString(dryLinks(t, "ip", "netns", "exec", x))
	r, _ := exec.Command("ip", "-n", x, "route", "show").CombinedOutput()
	v.WriteString("target routes\n" + string(r))
	r6, _ := exec.Command("ip", "-n", x, "-6", "route", "show").CombinedOutput()
	v.WriteString("target IPv6 routes\n" + string(r6))
	v.WriteString("hosts\n" + hostsOf(x) + "resolv\n" + resolvOf(x))
	v.WriteString(dryStateFiles(h.state))
	return v.String()
}

// dryLinks lists the links of a namespace (run through pre) by what the
// kernel does not choose: name, kind, flags, MTU, master, addresses, the
// MAC of all but a host veth (random), and a bridge's route_localnet.
func dryLinks(t *testing.T, pre ...string) string {
	t.Helper()
	out, err := exec.Command(pre[0], append(pre[1:], "ip", "-j", "-d", "addr", "show")...).Output()
	if err != nil {
		t.Fatalf("ip addr: %v", err)
	}
	var ls []struct {
		IfName   string   `json:"ifname"`
		Flags    []string `json:"flags"`
		MTU      int      `json:"mtu"`
		Master   string   `json:"master"`
		Address  string   `json:"address"`
		LinkInfo struct {
			Kind string `json:"info_kind"`
		} `json:"linkinfo"`
		Addrs []struct {
			Local  string `json:"local"`
			Prefix int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &ls); err != nil {
		t.Fatalf("ip -j addr: %v", err)
	}
	var lines []string
	for _, l := range ls {
		mac := l.Address
		if strings.HasPrefix(l.IfName, "veth") {
			mac = "random"
		}
		// Carrier is the kernel's to tell, late: linkwatch reports a
		// bridge's loss of its last port up to a second after it.
		flags := slices.DeleteFunc(slices.Clone(l.Flags), func(f string) bool { return f == "NO-CARRIER" || f == "LOWER_UP" })
		s := strings.Join([]string{"link", l.IfName, l.LinkInfo.Kind, strings.Join(flags, ","), itoa(l.MTU), l.Master, mac}, " ")
		for _, a := range l.Addrs {
			s += " " + a.Local + "/" + itoa(a.Prefix)
		}
		if l.LinkInfo.Kind == "bridge" {
			rl, _ := exec.Command(pre[0], append(pre[1:], "sysctl", "-n", "net.ipv4.conf."+l.IfName+".route_localnet")...).Output()
			s += " route_localnet=" + strings.TrimSpace(string(rl))
		}
		lines = append(lines, s)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// dryStateFiles lists the files under a state dir, lock files aside (a dry
// run takes no lock), an endpoint id's cookie aside (each namespace has
// its own).
func dryStateFiles(dir string) string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir || strings.HasSuffix(p, "lock") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, "state "+cookieRE.ReplaceAllString(rel, "ns-ID"))
		return nil
	})
	return strings.Join(out, "\n") + "\n"
}

// diffLines lists the lines of a not in b (-) and of b not in a (+).
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
