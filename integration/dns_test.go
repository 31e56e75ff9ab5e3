package integration

import (
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// dig asks server for name (A) from inside namespace ns and returns the
// answer addresses, one per line ("" when none).
func dig(ns, server, name string, opts ...string) string {
	args := append([]string{"+short", "+time=1", "+tries=2"}, opts...)
	out, _ := testutil.InNS(ns, "dig", append(args, "@"+server, name, "A")...)
	return strings.TrimSpace(out)
}

// fakeUpstream serves DNS on 198.51.100.2:53 inside the outside namespace:
// every query is recorded and answered 192.0.2.99. It returns the names it
// was asked.
func fakeUpstream(t *testing.T, out string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var asked []string
	var pc net.PacketConn
	if err := inNS(out, func() error {
		var err error
		pc, err = net.ListenPacket("udp4", "198.51.100.2:53")
		return err
	}); err != nil {
		t.Fatalf("fake upstream: %v", err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		mu.Lock()
		asked = append(asked, r.Question[0].Name)
		mu.Unlock()
		m := new(mdns.Msg)
		m.SetReply(r)
		rr, _ := mdns.NewRR(r.Question[0].Name + " 60 IN A 192.0.2.99")
		m.Answer = append(m.Answer, rr)
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), asked...)
	}
}

// TestPrivilegedDNS: names and aliases resolve through 127.0.0.11 inside
// each namespace and through the gateway, other names are forwarded to the
// upstream (a fake one the test runs), internal networks never forward, a
// detached name is gone at once, a killed daemon comes back with every
// name, resolv.conf says Docker's words and is put back on detach, and
// --link writes a static entry.
func TestPrivilegedDNS(t *testing.T) {
	h := newHost(t)
	outNS, _ := outside(t, h)
	asked := fakeUpstream(t, outNS)
	h.env = []string{"PLUMB_DNS_UPSTREAM=198.51.100.2:53"}

	h.must("network", "create", "dn", "--subnet", "10.231.20.0/24")
	a, b := target(t), target(t)
	h.must("attach", "netns:"+a, "--net", "dn", "--alias", "web")
	h.must("attach", "netns:"+b, "--net", "dn", "--link", a+":linked")
	ipA, ipB := h.epIP("netns:"+a, "dn"), h.epIP("netns:"+b, "dn")

	// Names resolve at once after attach returns (no sleep here).
	if got := dig(b, "127.0.0.11", a); got != ipA {
		t.Fatalf("%s asks 127.0.0.11 for %s: %q, want %s", b, a, got, ipA)
	}
	if got := dig(a, "127.0.0.11", b); got != ipB {
		t.Fatalf("%s asks 127.0.0.11 for %s: %q, want %s", a, b, got, ipB)
	}
	if got := dig(b, "127.0.0.11", "web"); got != ipA {
		t.Fatalf("alias web: %q, want %s", got, ipA)
	}
	if got := dig(b, "10.231.20.1", a); got != ipA {
		t.Fatalf("through the gateway: %q, want %s", got, ipA)
	}
	// Over TCP too: the listeners' accept-time check admits members.
	for _, server := range []string{"127.0.0.11", "10.231.20.1"} {
		if got := dig(b, server, a, "+tcp"); got != ipA {
			t.Fatalf("%s asks %s over tcp for %s: %q, want %s", b, server, a, got, ipA)
		}
	}
	// The namespace's own resolver setup: getent goes through resolv.conf.
	if out, err := testutil.InNS(a, "getent", "hosts", b); err != nil || !strings.Contains(out, ipB) {
		t.Fatalf("getent hosts %s in %s: %q %v", b, a, out, err)
	}
	rc, _ := os.ReadFile("/etc/netns/" + a + "/resolv.conf")
	if !strings.Contains(string(rc), "nameserver 127.0.0.11") || !strings.Contains(string(rc), "ndots:0") {
		t.Fatalf("resolv.conf of %s:\n%s", a, rc)
	}
	if hs := hostsOf(b); !strings.Contains(hs, ipA+"\tlinked "+a) {
		t.Fatalf("--link entry missing in hosts of %s:\n%s", b, hs)
	}
	if out := h.must("dns", "ls", "--net", "dn"); !strings.Contains(out, "web") || !strings.Contains(out, ipB) {
		t.Fatalf("dns ls:\n%s", out)
	}

	// Other names go to the upstream, from the host.
	if got := dig(a, "127.0.0.11", "example.test"); got != "192.0.2.99" {
		t.Fatalf("forwarded name: %q", got)
	}
	if q := strings.Join(asked(), ","); !strings.Contains(q, "example.test.") {
		t.Fatalf("upstream saw %q", q)
	}

	// An internal network never forwards.
	h.must("network", "create", "dn-int", "--subnet", "10.231.21.0/24", "--internal")
	c := target(t)
	h.must("attach", "netns:"+c, "--net", "dn-int")
	if got := dig(c, "127.0.0.11", "internal-only.test"); got != "" {
		t.Fatalf("internal network got an answer for an outside name: %q", got)
	}
	if q := strings.Join(asked(), ","); strings.Contains(q, "internal-only") {
		t.Fatal("internal network's query reached the upstream")
	}
	// Names are scoped per network.
	if got := dig(c, "127.0.0.11", a); got != "" {
		t.Fatalf("a name of another network resolved: %q", got)
	}

	// kill -9 and a new start: every name is back, with no attach repeated.
	h.killAndRestartDaemon()
	waitFor(t, func() bool { return dig(b, "127.0.0.11", a) == ipA }, "names after a daemon restart")
	if got := dig(b, "127.0.0.11", "web"); got != ipA {
		t.Fatalf("alias after restart: %q", got)
	}

	// Detach: the name is gone at once; resolv.conf and hosts are put back.
	h.must("detach", "netns:"+a)
	// (It is no longer plumb's, so it goes upstream like any other name.)
	if got := dig(b, "127.0.0.11", a); strings.Contains(got, ipA) {
		t.Fatalf("detached name still resolves to %s", got)
	}
	if _, err := os.Stat("/etc/netns/" + a + "/resolv.conf"); !os.IsNotExist(err) {
		b, _ := os.ReadFile("/etc/netns/" + a + "/resolv.conf")
		t.Fatalf("resolv.conf of a detached netns left behind: %v\n%s", err, b)
	}

	// A namespace that disappears has its listener closed and names dropped.
	testutil.Run(t, "ip", "netns", "del", c)
	waitFor(t, func() bool {
		out, _ := h.run("dns", "ls", "--net", "dn-int")
		return !strings.Contains(out, c)
	}, "names of a deleted namespace dropped")
}

// TestPrivilegedDockerDNS: a real --network=none container resolves
// another by name through 127.0.0.11, from its own resolv.conf.
func TestPrivilegedDockerDNS(t *testing.T) {
	dockertest.Require(t)
	h := rootHost(t)
	a, b := testutil.UniqueName("pa"), testutil.UniqueName("pb")
	dockertest.RunNone(t, a)
	dockertest.RunNone(t, b)
	h.must("network", "create", "ddns", "--subnet", "10.231.22.0/24")
	h.must("attach", a, "--net", "ddns")
	h.must("attach", b, "--net", "ddns")
	ipB := h.epIP(b, "ddns")
	out, err := dockertest.Exec(t, a, "cat", "/etc/resolv.conf")
	if err != nil || !strings.Contains(out, "nameserver 127.0.0.11") {
		t.Fatalf("resolv.conf in %s: %v\n%s", a, err, out)
	}
	out, err = dockertest.Exec(t, a, "nslookup", b)
	if err != nil || !strings.Contains(out, ipB) {
		t.Fatalf("nslookup %s inside %s: %v\n%s", b, a, err, out)
	}
	h.must("detach", a)
	h.must("detach", b)
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return len(b) == 0 || strings.Contains(string(b), ") Z ")
	}, "the daemon to die")
}

// waitFor polls cond for up to 10 s; there is no timed assertion, only a
// bound on how long the test waits for something that must happen.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
