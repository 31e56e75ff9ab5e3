package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/doctor"
	"github.com/plumbnet/plumb/network"
)

// The host checks of `plumb doctor`, each problem made on a real kernel in
// a throwaway host namespace. doctor runs in-process in that namespace and
// --fix repairs only the host findings: `plumb doctor --fix` would also
// repair what the state checks find in /etc/netns, which other tests on
// this machine own.

// docHost is a host namespace with network web (and what a case adds).
type docHost struct {
	*host
	t   *testing.T
	br  string // web's bridge
	fwd string // a target on web publishing 8080:80, when a case made one
	out string // an outside namespace at 198.51.100.2, linked to the host's 198.51.100.1
}

const docSubnet = "10.94.0.0/24"

func newDocHost(t *testing.T) *docHost {
	h := newHost(t)
	// Each case's problem is for doctor to find: the daemon leaves it.
	h.env = append(h.env, "PLUMB_RECONCILE=off")
	h.must("network", "create", "web", "--subnet", docSubnet)
	return &docHost{host: h, t: t, br: network.BridgeName("web")}
}

// sh runs a shell command line in the namespace and fails the test when it
// fails.
func (d *docHost) shell(line string) string {
	d.t.Helper()
	return shOut(d.t, d.host, "sh", "-c", line)
}

// manager is a Manager of d's state, as the plumb binary makes it.
func (d *docHost) manager() *network.Manager {
	m := network.NewManager(d.host.state)
	m.RunDir = d.runDir
	return m
}

// examine runs the host checks in the namespace.
func (d *docHost) examine() []*doctor.Finding {
	d.t.Helper()
	var fs []*doctor.Finding
	m := d.manager()
	if err := inNS(d.ns, func() error {
		nets, err := m.List()
		fs = doctor.HostChecks(m)(nets)
		return err
	}); err != nil {
		d.t.Fatal(err)
	}
	return fs
}

// fix runs doctor's Fix over fs in the namespace.
func (d *docHost) fix(fs []*doctor.Finding) {
	d.t.Helper()
	m := d.manager()
	if err := inNS(d.ns, func() error {
		(&doctor.Doctor{M: m}).Fix(context.Background(), fs)
		return nil
	}); err != nil {
		d.t.Fatal(err)
	}
}

// snap is everything the host checks read or a repair may write:
// iptables (both backends), nftables, routes, addresses and sysctls.
func (d *docHost) snap() string {
	d.t.Helper()
	counters := regexp.MustCompile(`\[\d+:\d+\]|counter packets \d+ bytes \d+|^#.*`)
	var b strings.Builder
	for _, c := range []string{"iptables-nft-save", "iptables-legacy-save", "nft list ruleset", "ip -4 -o route", "ip -4 -o addr",
		"sysctl net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.bridge.bridge-nf-call-iptables net.ipv4.conf." + d.br + ".route_localnet net.ipv4.conf." + d.br + ".rp_filter"} {
		b.WriteString("$ " + c + "\n")
		for _, l := range strings.Split(d.shell(c), "\n") {
			b.WriteString(counters.ReplaceAllString(l, "") + "\n")
		}
	}
	return b.String()
}

// foreign is snap without what is plumb's: its chains, rules and jumps,
// its nftables table, its bridges' routes, addresses and sysctls, and
// ip_forward (which plumb turns on).
func (d *docHost) foreign() string {
	var keep []string
	inPlumbTable := false
	for _, l := range strings.Split(d.snap(), "\n") {
		switch {
		case strings.HasPrefix(l, "table inet plumb"):
			inPlumbTable = true
		case inPlumbTable:
			inPlumbTable = l != "}"
		case strings.Contains(l, "PLUMB-"), strings.Contains(l, "plumb"), strings.Contains(l, "pb-"), strings.Contains(l, "ip_forward"):
		default:
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// find returns the findings of check id.
func find(fs []*doctor.Finding, id string) []*doctor.Finding {
	var out []*doctor.Finding
	for _, f := range fs {
		if f.Check == id {
			out = append(out, f)
		}
	}
	return out
}

// problems lists the host problems of fs as "check: what".
func problems(fs []*doctor.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Severity == doctor.Problem {
			out = append(out, f.Check+": "+f.What)
		}
	}
	return out
}

var backticked = regexp.MustCompile("`([^`]+)`")

// printed returns the i-th command a finding's Fix prints.
func printed(t *testing.T, f *doctor.Finding, i int) string {
	t.Helper()
	m := backticked.FindAllStringSubmatch(f.Fix, -1)
	if len(m) <= i {
		t.Fatalf("%s: Fix %q prints fewer than %d commands", f.Check, f.Fix, i+1)
	}
	return m[i][1]
}

// TestPrivilegedDoctorHostHealthy: a sound host gives no host problem,
// and `plumb doctor` runs the host checks (its br_netfilter note shows).
func TestPrivilegedDoctorHostHealthy(t *testing.T) {
	d := newDocHost(t)
	before := d.snap()
	fs := d.examine()
	if p := problems(fs); len(p) > 0 {
		t.Errorf("a sound host has host problems: %q", p)
	}
	if after := d.snap(); after != before {
		t.Errorf("doctor changed the host:\n%s\nwas:\n%s", after, before)
	}
	out, _ := d.command(nil, "doctor", "--format", "json").Output() // other tests' leftovers make it exit 1
	var got []doctor.Finding
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("doctor --format json: %v\n%s", err, out)
	}
	if !slices.ContainsFunc(got, func(f doctor.Finding) bool { return f.Check == "br-netfilter" }) {
		t.Errorf("plumb doctor does not run the host checks: %s", out)
	}
	for _, f := range got {
		if f.Severity == doctor.Problem && slices.Contains(hostCheckIDs, f.Check) {
			t.Errorf("plumb doctor on a sound host: %+v", f)
		}
	}
}

// hostCheckIDs are the Check ids of the host checks.
var hostCheckIDs = []string{"host-read", "forward-jump", "forward-rule", "iptables-split", "ip-forward",
	"route-localnet", "rp-filter", "subnet-overlap", "stray-guard", "br-netfilter"}

// readHostJSON reads StateDir/host.json, where create records that plumb
// turned ip_forward on.
func readHostJSON(t *testing.T, d *docHost) string {
	b, _ := os.ReadFile(filepath.Join(d.host.state, "host.json"))
	return string(b)
}
