package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/internal/lockfile"
	"github.com/plumbnet/plumb/internal/testutil"
	"github.com/plumbnet/plumb/veth"
)

// plumbBin is the plumb binary built once for the whole package.
var plumbBin string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			return m.Run() // privileged tests skip (or fail under CI)
		}
		dir, err := os.MkdirTemp("", "plumb-it")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		plumbBin = filepath.Join(dir, "plumb")
		build := exec.Command("go", "build", "-o", plumbBin, "../cmd/plumb")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building plumb: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// host is where plumb runs: a throwaway network namespace standing in for
// the host (ns != ""), or the real host namespace (ns == "") for the tests
// that must run beside a real dockerd. Each host has its own state dir.
type host struct {
	t      *testing.T
	ns     string
	state  string
	runDir string          // the daemon's run dir
	env    []string        // extra environment of every plumb run
	own    map[string]bool // links the test itself made in h, left out of snapshots
	fw     string          // firewall backend asked for (PLUMB_FIREWALL); "": plumb's default
}

// newHost makes a fresh host namespace with its own state directory.
// Cleanup removes every network plumb made there (`network rm --force`),
// then the namespace.
func newHost(t *testing.T) *host {
	t.Helper()
	testutil.RequirePrivileged(t)
	h := &host{t: t, ns: testutil.NewNetNS(t), state: t.TempDir(), runDir: t.TempDir()}
	t.Cleanup(h.removeAll)
	t.Cleanup(h.logDaemonOnFailure)
	return h
}

// logDaemonOnFailure logs the end of h's daemon log when the test failed:
// a daemon that crashed says why there.
func (h *host) logDaemonOnFailure() {
	if !h.t.Failed() {
		return
	}
	b, err := os.ReadFile(filepath.Join(h.runDir, "daemon.log"))
	if err != nil {
		return
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	h.t.Logf("daemon.log (end):\n%s", b)
}

// newStillHost is newHost whose daemon repairs nothing
// (PLUMB_RECONCILE=off): for the tests of drift itself, which make the
// kernel differ from the state and read what ps and doctor say of it.
func newStillHost(t *testing.T) *host {
	t.Helper()
	h := newHost(t)
	h.env = append(h.env, "PLUMB_RECONCILE=off")
	return h
}

// rootHost runs plumb in the real host namespace, with a private state dir.
func rootHost(t *testing.T) *host {
	t.Helper()
	testutil.RequirePrivileged(t)
	h := &host{t: t, state: t.TempDir(), runDir: t.TempDir()}
	t.Cleanup(h.removeAll)
	return h
}

func (h *host) removeAll() {
	// A damaged network makes ls fail after it listed the others: remove
	// those all the same.
	names, err := h.networkNames()
	if err != nil && names == nil {
		h.t.Errorf("cleanup: %v", err)
	}
	for _, name := range names {
		// --local: an overlay network's part here, not the store's.
		if o, err := h.run("network", "rm", "--force", "--local", name); err != nil {
			h.t.Errorf("cleanup: network rm %s: %v\n%s", name, err, o)
		}
	}
	h.stopDaemon()
}

// daemonPID is the pid of h's plumb daemon, or 0. It asks who holds the
// daemon's lock, not the pid file: a SIGKILLed daemon leaves its pid file
// naming a pid that may by now be any process, which stopDaemon would kill.
func (h *host) daemonPID() int {
	pid, _ := control.Running(h.runDir)
	return pid
}

// stopDaemon ends h's daemon (SIGTERM, then SIGKILL) and waits for it.
func (h *host) stopDaemon() {
	pid := h.daemonPID()
	if pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 300; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// killAndRestartDaemon kills h's daemon with SIGKILL, waits for it to be
// gone and starts a new one, stopped at cleanup. It does not wait for the
// new daemon to serve: the caller waits for what it checks.
func (h *host) killAndRestartDaemon() {
	h.t.Helper()
	pid := h.daemonPID()
	if pid == 0 {
		h.t.Fatal("no daemon pid file")
	}
	syscall.Kill(pid, syscall.SIGKILL)
	h.waitDead(pid)
	d := h.command(nil, "daemon", "--exit-when-idle")
	if logf, err := os.OpenFile(filepath.Join(h.runDir, "daemon.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
		defer logf.Close() // the child has its own copy once started
		d.Stdout, d.Stderr = logf, logf
	}
	if err := d.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { d.Process.Kill(); d.Wait() })
}

// waitDead waits until the daemon pid, SIGKILLed, is wholly gone: not
// only its thread group's leader (a zombie at once) but its last thread,
// which holds its lock and its listening socket until it exits. A command
// run before then may connect to that socket and be reset. The lock is
// gone when it can be taken, or when another daemon (started meanwhile by
// a command) holds it.
func (h *host) waitDead(pid int) {
	h.t.Helper()
	waitGone(h.t, pid)
	waitFor(h.t, func() bool {
		if other, ok := control.Running(h.runDir); ok && other != pid {
			return true
		}
		l, err := lockfile.TryAcquire(control.LockPath(h.runDir))
		if l == nil || err != nil {
			return false
		}
		l.Unlock()
		return true
	}, "the killed daemon to let its lock go")
}

// command returns the exec.Cmd for plumb args in h.
func (h *host) command(env []string, args ...string) *exec.Cmd {
	full := append([]string{"--state-dir", h.state, "--run-dir", h.runDir}, args...)
	var c *exec.Cmd
	if h.ns == "" {
		c = exec.Command(plumbBin, full...)
	} else {
		c = exec.Command("ip", append([]string{"netns", "exec", h.ns, plumbBin}, full...)...)
	}
	// No test may send a query to the host's real upstream resolver:
	// forwarding is off unless a test points it at its own fake upstream.
	c.Env = append(append(append(os.Environ(), "PLUMB_DNS_UPSTREAM=none"), h.env...), env...)
	return c
}

// run runs plumb args in h and returns its combined output.
func (h *host) run(args ...string) (string, error) {
	out, err := h.command(nil, args...).CombinedOutput()
	return string(out), err
}

// must runs plumb args in h and fails the test when it fails.
func (h *host) must(args ...string) string {
	h.t.Helper()
	out, err := h.run(args...)
	if err != nil {
		h.t.Fatalf("plumb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// sh runs a command in h's namespace.
func (h *host) sh(name string, args ...string) (string, error) {
	if h.ns == "" {
		out, err := exec.Command(name, args...).CombinedOutput()
		return string(out), err
	}
	return testutil.InNS(h.ns, name, args...)
}

// snapshot is the firewall and link state of h, for before/after checks:
// `iptables-save` without counters and comments, `nft list ruleset`
// without counters (when nft is installed: either backend may leave a
// trace there, the localnet guard's table or the nftables backend's), and
// `ip -o link` names.
// It first waits for the daemon to finish deleting the veths that detach
// retired (veth.RetiredPrefix), and fails the test if they stay.
func (h *host) snapshot() string {
	h.t.Helper()
	h.waitReaped()
	ipt, err := h.sh("iptables-save")
	if err != nil {
		h.t.Fatalf("iptables-save: %v\n%s", err, ipt)
	}
	counters := regexp.MustCompile(`\[\d+:\d+\]`)
	var b strings.Builder
	for _, l := range strings.Split(ipt, "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		b.WriteString(counters.ReplaceAllString(l, "") + "\n")
	}
	if _, err := exec.LookPath("nft"); err == nil {
		b.WriteString(withoutIdleXtChains(nftRuleset(h.t, h)))
	}
	links, err := h.sh("ip", "-o", "link", "show")
	if err != nil {
		h.t.Fatalf("ip link: %v", err)
	}
	for _, l := range strings.Split(links, "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			name := strings.TrimSuffix(strings.Split(f[1], "@")[0], ":")
			if !h.own[name] {
				b.WriteString("link " + name + "\n")
			}
		}
	}
	return b.String()
}

// xtTable matches the header of a table iptables-nft manages (its
// iptables-save shows it already).
var xtTable = regexp.MustCompile(`^table ip6? (filter|nat|mangle|raw|security) \{$`)

// withoutIdleXtChains is an `nft list ruleset` output without the base
// chains of iptables-nft's tables that hold no rule and accept: iptables-nft
// adds the built-in chains of a table whenever iptables-restore writes to
// it, and such a chain changes nothing. Every other line stays.
func withoutIdleXtChains(ruleset string) string {
	lines := strings.Split(ruleset, "\n")
	var out []string
	inXt := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch t := strings.TrimSpace(l); {
		case strings.HasPrefix(l, "table "):
			inXt = xtTable.MatchString(l)
		case inXt && strings.HasPrefix(t, "chain ") && i+2 < len(lines) &&
			strings.HasSuffix(strings.TrimSpace(lines[i+1]), "policy accept;") &&
			strings.TrimSpace(lines[i+2]) == "}":
			i += 2
			continue
		case t == "":
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// waitReaped waits until no retired veth is left in h: detach hands their
// deletion to the daemon, which does it in the background.
func (h *host) waitReaped() {
	h.t.Helper()
	var links string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if links, err = h.sh("ip", "-o", "link", "show"); err != nil {
			h.t.Fatalf("ip link: %v", err)
		}
		if !strings.Contains(links, veth.RetiredPrefix) {
			return
		}
	}
	h.t.Fatalf("retired veths still there 10 s after detach:\n%s", links)
}

// target makes a namespace to attach, removed at cleanup.
func target(t *testing.T) string { return testutil.NewNetNS(t) }

// ping reports whether ns reaches ip with one ICMP echo.
func ping(ns, ip string) bool {
	_, err := testutil.InNS(ns, "ping", "-c", "1", "-W", "1", ip)
	return err == nil
}

// outside builds an "outside world" host for h: a namespace linked to h's
// namespace by a veth, h side 198.51.100.1/24 and outside 198.51.100.2/24
// (TEST-NET-2, private to this test), with a TCP listener on port 8080 that
// records the source address of each connection. It returns the outside
// namespace and a function that returns the last source seen.
func outside(t *testing.T, h *host) (string, func() string) {
	t.Helper()
	out := testutil.NewNetNS(t)
	a, b := testutil.UniqueName("po"), testutil.UniqueName("pi")
	testutil.Run(t, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", a).Run() })
	testutil.Run(t, "ip", "link", "set", b, "netns", out)
	if h.ns != "" {
		testutil.Run(t, "ip", "link", "set", a, "netns", h.ns)
	}
	if h.own == nil {
		h.own = map[string]bool{}
	}
	h.own[a] = true
	mustSh(t, h, "ip", "addr", "add", "198.51.100.1/24", "dev", a)
	mustSh(t, h, "ip", "link", "set", a, "up")
	testutil.Run(t, "ip", "-n", out, "addr", "add", "198.51.100.2/24", "dev", b)
	testutil.Run(t, "ip", "-n", out, "link", "set", b, "up")

	var ln net.Listener
	err := inNS(out, func() error {
		var err error
		ln, err = net.Listen("tcp", "198.51.100.2:8080")
		return err
	})
	if err != nil {
		t.Fatalf("listening in the outside namespace: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ap := c.RemoteAddr().(*net.TCPAddr)
			c.Write([]byte("hello from outside\n"))
			c.Close()
			select {
			case seen <- ap.IP.String():
			default:
			}
		}
	}()
	last := func() string {
		select {
		case s := <-seen:
			return s
		case <-time.After(3 * time.Second):
			return ""
		}
	}
	return out, last
}

func mustSh(t *testing.T, h *host, name string, args ...string) {
	t.Helper()
	if out, err := h.sh(name, args...); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// inNS runs f on a thread inside the named namespace.
func inNS(name string, f func() error) error {
	n, err := ns.GetNS("/var/run/netns/" + name)
	if err != nil {
		return err
	}
	defer n.Close()
	return n.Do(func(ns.NetNS) error { return f() })
}

// dialFrom connects from namespace src to addr and returns what the server
// said, or an error.
func dialFrom(src, addr string) (string, error) {
	var out string
	err := inNS(src, func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 128)
		n, _ := c.Read(buf)
		out = string(buf[:n])
		return nil
	})
	return out, err
}

// hostsOf returns the content of /etc/netns/NAME/hosts, where plumb writes
// the hosts entries of a netns:NAME target.
func hostsOf(name string) string {
	b, _ := os.ReadFile("/etc/netns/" + name + "/hosts")
	return string(b)
}

// resolvOf returns the content of /etc/netns/NAME/resolv.conf, where plumb
// points a netns:NAME target at 127.0.0.11.
func resolvOf(name string) string {
	b, _ := os.ReadFile("/etc/netns/" + name + "/resolv.conf")
	return string(b)
}
