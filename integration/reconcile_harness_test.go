package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/network"
)

// What the reconciler tests (issue 14, sections 1 and 2) share: polling
// with a deadline for what the daemon repairs by itself (no test waits a
// fixed time for a repair), the daemon's log, the daemon started by hand
// as a reboot's init would, plumb's rules as iptables-save shows them,
// and the identity of an endpoint inside its namespace.

// repairDeadline bounds how long a test waits for the daemon to repair a
// drift it can see: the firewall is polled every 2 s (iptables gives no
// notification), links are repaired on their notification.
const repairDeadline = 10 * time.Second

// eventually polls cond every 100 ms until it holds, for at most d, and
// reports whether it held.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// waitRepaired polls cond until it holds, for at most repairDeadline, and
// fails the test with what (and detail(), when given) when it does not.
func waitRepaired(t *testing.T, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	start := time.Now()
	if eventually(repairDeadline, cond) {
		t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
		return
	}
	msg := ""
	for _, d := range detail {
		msg += "\n" + d()
	}
	t.Fatalf("not repaired within %v: %s%s", repairDeadline, what, msg)
}

// daemonLog is RUNDIR/daemon.log of h: what every daemon of h wrote,
// one started by a command or by startDaemon.
func (h *host) daemonLog() string {
	b, _ := os.ReadFile(filepath.Join(h.runDir, "daemon.log"))
	return string(b)
}

// logLines are the lines of h's daemon log that contain every one of
// words.
func (h *host) logLines(words ...string) []string {
	var out []string
	for _, l := range strings.Split(h.daemonLog(), "\n") {
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(l, w) }) {
			out = append(out, l)
		}
	}
	return out
}

// startDaemon starts `plumb daemon --exit-when-idle` in h, as a reboot's
// init (or the systemd unit) would, appending to RUNDIR/daemon.log as a
// daemon a command starts does. It does not wait for it to serve. The
// process is reaped when it exits, and killed at cleanup by its pid.
func (h *host) startDaemon() {
	h.t.Helper()
	logf, err := os.OpenFile(filepath.Join(h.runDir, "daemon.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	defer logf.Close()
	d := h.command(nil, "daemon", "--exit-when-idle")
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		h.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.Wait(); close(done) }()
	h.t.Cleanup(func() {
		select {
		case <-done:
		default:
			d.Process.Kill()
			<-done
		}
	})
}

// killDaemon SIGKILLs h's daemon, found by who holds its lock, and waits
// until it no longer holds it; it does nothing when none runs. (The
// thread group's leader shows as a zombie before its last thread exits
// and lets the lock go: a daemon started then would find it held.)
func (h *host) killDaemon() {
	h.t.Helper()
	if pid := h.daemonPID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		h.waitDead(pid)
	}
}

var plumbRuleRE = regexp.MustCompile(`PLUMB|plumb`)

// plumbRules are the lines of iptables-save in h that are plumb's: its
// chains (PLUMB-*) and every rule in them or jumping to them or carrying
// a plumb: comment, counters left out, sorted (the order of the tables'
// sections kept apart by the table's name).
func plumbRules(t *testing.T, h *host) []string {
	t.Helper()
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	var out []string
	table := ""
	for _, l := range strings.Split(shOut(t, h, "iptables-save"), "\n") {
		if strings.HasPrefix(l, "*") {
			table = l
		}
		if strings.HasPrefix(l, "#") || !plumbRuleRE.MatchString(l) {
			continue
		}
		out = append(out, table+" "+counters.ReplaceAllString(l, ""))
	}
	slices.Sort(out)
	return out
}

// repeated lists the lines that rules hold more than once.
func repeated(rules []string) []string {
	var out []string
	for i := 1; i < len(rules); i++ {
		if rules[i] == rules[i-1] && (len(out) == 0 || out[len(out)-1] != rules[i]) {
			out = append(out, rules[i])
		}
	}
	return out
}

// ruleDiff lists, sorted, the lines of after that before lacks ("+ ")
// and those of before that after lacks ("- "), as often as they differ.
func ruleDiff(before, after []string) string {
	count := map[string]int{}
	for _, l := range after {
		count[l]++
	}
	for _, l := range before {
		count[l]--
	}
	var out []string
	for l, n := range count {
		for ; n > 0; n-- {
			out = append(out, "+ "+l)
		}
		for ; n < 0; n++ {
			out = append(out, "- "+l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// doctorClean reports whether `plumb doctor` in h finds no problem (exit
// 0; notes are no problems), with its output.
func (h *host) doctorClean() (bool, string) {
	out, err := h.run("doctor")
	return err == nil, out
}

// allUp reports whether every endpoint `plumb ps` lists is up, and the
// rows that are not.
func (h *host) allUp() (bool, string) {
	var rows []psState
	if err := h.runJSON(&rows, "ps", "--format", "json"); err != nil {
		return false, err.Error()
	}
	var bad []string
	for _, r := range rows {
		if r.State != "up" {
			bad = append(bad, r.Target+" on "+r.Network+": "+r.State+" ("+r.Reason+")")
		}
	}
	return len(bad) == 0, strings.Join(bad, "\n")
}

// whole reports whether h is whole: doctor finds no problem and every
// endpoint is up.
func (h *host) whole() bool {
	ok, _ := h.doctorClean()
	if !ok {
		return false
	}
	up, _ := h.allUp()
	return up
}

// wholeDetail is what doctor, ps and the daemon's log's tail say, for the
// message of a test that waited in vain for h to be whole.
func (h *host) wholeDetail() string {
	_, doc := h.doctorClean()
	_, ps := h.allUp()
	lines := strings.Split(strings.TrimSpace(h.daemonLog()), "\n")
	return "doctor:\n" + doc + "\nps, not up:\n" + ps + "\ndaemon log (tail):\n" + strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// identity is an endpoint as its namespace sees it: the address and the
// MAC of its interface.
type identity struct{ addr, mac string }

// identityIn reads ifname's IPv4 address (with its prefix length) and MAC
// in namespace ns; zero when the interface is missing.
func identityIn(ns, ifname string) identity {
	var id identity
	out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", "dev", ifname).Output()
	if err != nil {
		return id
	}
	if f := strings.Fields(string(out)); slices.Contains(f, "link/ether") {
		id.mac = f[slices.Index(f, "link/ether")+1]
	}
	out, _ = exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", ifname).Output()
	if f := strings.Fields(string(out)); slices.Contains(f, "inet") {
		id.addr = f[slices.Index(f, "inet")+1]
	}
	return id
}

// linkKind is the kind of link name in h ("bridge", "dummy", "veth", ""
// for a link with none), or "absent".
func linkKind(h *host, name string) string {
	out, err := h.sh("ip", "-d", "-o", "link", "show", "dev", name)
	if err != nil {
		return "absent"
	}
	f := strings.Fields(out)
	for _, kind := range []string{"bridge", "dummy", "veth"} {
		if slices.Contains(f, kind) {
			return kind
		}
	}
	return ""
}

// bridgeOf is the bridge of network name as its config says.
func bridgeOf(t *testing.T, h *host, name string) string {
	t.Helper()
	n := readState(t, h.state).nets[name]
	if n == nil {
		t.Fatalf("network %s: no readable config", name)
	}
	if n.Bridge != network.BridgeName(name) {
		t.Logf("network %s has bridge %s", name, n.Bridge)
	}
	return n.Bridge
}

// cleanNetnsFiles removes /etc/netns/NS at cleanup, for a target whose
// namespace the test deletes while plumb's files are there.
func cleanNetnsFiles(t *testing.T, ns ...string) {
	for _, n := range ns {
		t.Cleanup(func() { os.RemoveAll(filepath.Join("/etc/netns", n)) })
	}
}
