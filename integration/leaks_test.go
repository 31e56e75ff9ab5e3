package integration

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// What is left behind, counted with the test's own means and not with
// plumb's: the state directory read as files, the host's and the targets'
// links from `ip`, the rules from `iptables-save` and `nft list ruleset`,
// the targets' files in /etc/netns. The chaos and doctor tests expect
// every count to be 0.

// leaks counts what is left behind, by kind, with one line per item.
type leaks struct {
	counts map[string]int
	items  []string
}

// leakKinds are the kinds leaks counts, in the order they print.
var leakKinds = []string{
	"links", "target-links", "address-files", "unreserved", "port-rules", "network-rules",
	"hosts-lines", "resolv", "state-files", "records", "held-ports", "dup-addresses",
}

func (l *leaks) add(kind, format string, args ...any) {
	l.counts[kind]++
	l.items = append(l.items, kind+": "+fmt.Sprintf(format, args...))
}

// total is the sum of the counts.
func (l *leaks) total() int {
	n := 0
	for _, c := range l.counts {
		n += c
	}
	return n
}

// String prints every count, zeros included.
func (l *leaks) String() string {
	var b strings.Builder
	for _, k := range leakKinds {
		fmt.Fprintf(&b, "%s=%d ", k, l.counts[k])
	}
	return strings.TrimSpace(b.String())
}

// countLeaks counts, in h and the targets named (netns names), what no
// record accounts for.
func countLeaks(t *testing.T, h *host, targets []string) *leaks {
	t.Helper()
	s := readState(t, h.state)
	l := &leaks{counts: map[string]int{}}
	for _, p := range s.odd {
		l.add("state-files", "%s", p)
	}
	l.countLinks(t, h, s, targets)
	l.countAddressFiles(s)
	l.countRules(t, h, s)
	l.countTargetFiles(s, targets)
	l.countDuplicates(t, s, targets)
	return l
}

var (
	hostVethRE = regexp.MustCompile(`^(veth[0-9a-f]{11}|pgone[0-9]+)$`)
	portRuleRE = regexp.MustCompile(`--comment "?plumb:([^/ "]+)/([^ "]+)"?`)
	netRuleRE  = regexp.MustCompile(`--comment "?plumb:([^/ "]+)"?(\s|$)`)
	hostsTagRE = regexp.MustCompile(`# plumb:(\S+)/(\S+)\s*$`)
)

// vethNames lists the names of the veths `ip -o link` shows in ns ("" for h).
func vethNames(t *testing.T, h *host, ns string) []string {
	t.Helper()
	args := []string{"-o", "link", "show", "type", "veth"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out := shOut(t, h, "ip", args...)
	var names []string
	for _, line := range strings.Split(out, "\n") {
		// "IDX: NAME@PEER: ...": ip also prints notes of its own on
		// lines of their own ("Peer netns reference is invalid." while
		// a pair's namespace goes away), which name no link.
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasSuffix(f[0], ":") && isDigits(strings.TrimSuffix(f[0], ":")) {
			names = append(names, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	return names
}

func (l *leaks) countLinks(t *testing.T, h *host, s *diskState, targets []string) {
	owned := map[string]bool{}
	inside := map[string]bool{} // netns name + "/" + ifname
	for _, r := range s.recs {
		owned[r.HostVeth] = true
		inside[filepath.Base(r.NetNS)+"/"+r.IfName] = true
	}
	for _, name := range vethNames(t, h, "") {
		if hostVethRE.MatchString(name) && (!owned[name] || strings.HasPrefix(name, "pgone")) {
			l.add("links", "%s", name)
		}
	}
	for _, ns := range targets {
		for _, name := range vethNames(t, h, ns) {
			if !inside[ns+"/"+name] {
				l.add("target-links", "%s in %s", name, ns)
			}
		}
	}
}

func (l *leaks) countAddressFiles(s *diskState) {
	for netName, files := range s.addrs {
		for ip, owner := range files {
			if r := s.rec(netName, owner); r == nil || r.IP.Addr().String() != ip {
				l.add("address-files", "%s/ips/%s (owner %q)", netName, ip, owner)
			}
		}
	}
	for _, r := range s.recs {
		if s.addrs[r.Network][r.IP.Addr().String()] != r.ID {
			l.add("unreserved", "%s of %s on %s", r.IP.Addr(), r.ID, r.Network)
		}
	}
}

func (l *leaks) countRules(t *testing.T, h *host, s *diskState) {
	t.Helper()
	rules := shOut(t, h, "iptables-save")
	seen := map[string]bool{}
	for _, line := range strings.Split(rules, "\n") {
		if m := portRuleRE.FindStringSubmatch(line); m != nil {
			if r := s.rec(m[1], m[2]); r == nil || len(r.Ports) == 0 {
				l.add("port-rules", "%s", line)
			}
			continue
		}
		if m := netRuleRE.FindStringSubmatch(line); m != nil {
			if _, ok := s.nets[m[1]]; !ok && !seen[line] {
				l.add("network-rules", "%s", line)
			}
			seen[line] = true
		}
	}
	bridges := map[string]bool{}
	for _, n := range s.nets {
		if n != nil {
			bridges[n.Bridge] = true
		}
	}
	for _, br := range guarded(nftRuleset(t, h)) {
		if !bridges[br] {
			l.add("network-rules", "localnet guard of %s", br)
		}
	}
}

func (l *leaks) countTargetFiles(s *diskState, targets []string) {
	for _, ns := range targets {
		attached := false
		for _, r := range s.recs {
			attached = attached || r.Target == "netns:"+ns
		}
		for _, line := range strings.Split(hostsOf(ns), "\n") {
			if m := hostsTagRE.FindStringSubmatch(line); m != nil && s.rec(m[1], m[2]) == nil {
				l.add("hosts-lines", "%s in /etc/netns/%s/hosts", strings.TrimSpace(line), ns)
			}
		}
		if !attached && strings.HasPrefix(resolvOf(ns), "# Generated by plumb") {
			l.add("resolv", "/etc/netns/%s/resolv.conf", ns)
		}
	}
}

// countDuplicates counts the addresses of a plumb network that two
// namespaces hold at once, from `ip -n NS addr`, and those two records
// name.
func (l *leaks) countDuplicates(t *testing.T, s *diskState, targets []string) {
	t.Helper()
	for _, d := range duplicates(s, targets) {
		l.add("dup-addresses", "%s", d)
	}
}

// duplicates lists the addresses that two of the namespaces targets hold
// at once (`ip -n NS -4 addr`), and those two records of one network name.
func duplicates(s *diskState, targets []string) []string {
	held := map[netip.Addr][]string{}
	for _, ns := range targets {
		b, _ := exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show").Output()
		for _, a := range inetAddrs(string(b)) {
			held[a] = append(held[a], ns)
		}
	}
	return append(twice(held), recordedTwice(s)...)
}

// inetAddrs are the addresses but loopback's that `ip -4 -o addr show`
// printed in out.
func inetAddrs(out string) []netip.Addr {
	var addrs []netip.Addr
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if p, err := netip.ParsePrefix(f[i+1]); f[i] == "inet" && err == nil && !p.Addr().IsLoopback() {
				addrs = append(addrs, p.Addr())
			}
		}
	}
	return addrs
}

// twice lists the addresses held by more than one holder (namespace).
// One holder holding its own address twice is one endpoint, not two: the
// second is on a retired pair (down, renamed pgone) that a detach killed
// before it handed the pair to the daemon left in the namespace, a stray
// link doctor deletes, and countLeaks counts if it does not.
func twice(held map[netip.Addr][]string) []string {
	var out []string
	for ip, nss := range held {
		if slices.Sort(nss); len(slices.Compact(nss)) > 1 {
			out = append(out, fmt.Sprintf("%s held by %v", ip, nss))
		}
	}
	return out
}

// recordedTwice lists the addresses two records of one network name.
func recordedTwice(s *diskState) []string {
	var out []string
	recorded := map[string]string{}
	for _, r := range s.recs {
		k := r.Network + " " + r.IP.Addr().String()
		if other, dup := recorded[k]; dup {
			out = append(out, fmt.Sprintf("%s recorded for %s and %s", k, other, r.ID))
		}
		recorded[k] = r.ID
	}
	return out
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
