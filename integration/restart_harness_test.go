package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// The harness of the restarted-container tests (restart_test.go): a
// host namespace with one network and a client namespace attached to it,
// busybox httpd containers to restart, Docker's start events with their
// times, and polls for "reachable again" with a deadline.

// restartDeadline bounds every wait for a re-attach.
const restartDeadline = 30 * time.Second

// httpdPort is the port the containers' httpd listens on; hostPort the
// host port it is published on, in the test's own host namespace.
const (
	httpdPort = 80
	hostPort  = 18080
)

// restartLab is a host namespace h with network net (gateway gw) and a
// client namespace attached to it, whose view is what "reachable" means.
type restartLab struct {
	t      *testing.T
	h      *host
	before string // h's snapshot before the test
	net    string
	gw     string
	client string // netns name
	starts *startEvents
}

func newRestartLab(t *testing.T, subnet string) *restartLab {
	t.Helper()
	dockertest.Require(t)
	h := newHost(t)
	l := &restartLab{t: t, h: h, before: h.snapshot(), net: "rs", client: target(t)}
	h.must("network", "create", l.net, "--subnet", subnet)
	l.gw = strings.TrimSuffix(subnet, "0/24") + "1"
	h.must("attach", "netns:"+l.client, "--net", l.net)
	l.starts = followStarts(t)
	return l
}

// runHTTPD starts a --network=none busybox container named name serving
// "hello NAME" on port 80 with httpd as pid 1, removed at cleanup.
func (l *restartLab) runHTTPD(name string) string {
	l.t.Helper()
	return dockertest.RunNone(l.t, name, "sh", "-c",
		fmt.Sprintf("mkdir -p /www && echo hello %s > /www/index.html && exec httpd -f -p %d -h /www", name, httpdPort))
}

// reachable waits until name, at ip, answers from the client namespace:
// on its published port through the gateway and on its own address
// (unless port is 0), to ping, and by name through 127.0.0.11. It returns
// how long after since the port and ping first answered, and fails the
// test at the deadline. The probes run side by side, each again and
// again with a short timeout (a long one would wait for a SYN or an ARP
// retransmit and measure that). It runs no plumb command.
func (l *restartLab) reachable(name, ip string, port int, since time.Time) (published, pinged time.Duration) {
	l.t.Helper()
	want := "hello " + name
	ctx, cancel := context.WithTimeout(context.Background(), restartDeadline)
	defer cancel()
	portAt := probe(ctx, func() bool {
		return port == 0 || strings.Contains(httpGetFrom(l.client, net.JoinHostPort(l.gw, fmt.Sprint(port))), want) &&
			strings.Contains(httpGetFrom(l.client, net.JoinHostPort(ip, fmt.Sprint(httpdPort))), want)
	})
	pingAt := probe(ctx, func() bool {
		_, err := testutil.InNS(l.client, "ping", "-c", "1", "-W", "0.02", ip)
		return err == nil
	})
	p, q := <-portAt, <-pingAt
	if p.IsZero() || q.IsZero() {
		l.t.Fatalf("%s (%s) not reachable from the client %v after its start: port %v, ping %v\ndaemon log:\n%s",
			name, ip, restartDeadline, !p.IsZero(), !q.IsZero(), l.daemonLog())
	}
	for ctx.Err() == nil {
		if got := l.dig(name); got == ip {
			return p.Sub(since), q.Sub(since)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.t.Fatalf("%s does not resolve to %s from the client: %q", name, ip, l.dig(name))
	return 0, 0
}

// probe calls ok until it is true, then sends the time it was, or until
// ctx ends, then sends the zero time.
func probe(ctx context.Context, ok func() bool) <-chan time.Time {
	at := make(chan time.Time, 1)
	go func() {
		for ctx.Err() == nil {
			if ok() {
				at <- time.Now()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		at <- time.Time{}
	}()
	return at
}

// dig asks 127.0.0.11 inside the client namespace for name's A record.
func (l *restartLab) dig(name string) string {
	out, _ := testutil.InNS(l.client, "dig", "+short", "+time=1", "+tries=1", "@127.0.0.11", name, "A")
	return strings.TrimSpace(out)
}

// daemonLog is what h's daemon logged, for failure messages and timings.
func (l *restartLab) daemonLog() string {
	b, _ := os.ReadFile(filepath.Join(l.h.runDir, "daemon.log"))
	return string(b)
}

// finish logs the daemon's lines about containers, removes the network
// and checks that the host is as it was.
func (l *restartLab) finish() {
	l.t.Helper()
	var lines []string
	for _, line := range strings.Split(l.daemonLog(), "\n") {
		if strings.Contains(line, "container") {
			lines = append(lines, line)
		}
	}
	l.t.Logf("the daemon's lines about containers:\n%s", strings.Join(lines, "\n"))
	l.h.must("network", "rm", "--force", l.net)
	if files := stateFiles(l.t, l.h.state); files != "" {
		l.t.Errorf("state files left:\n%s", files)
	}
	if after := l.h.snapshot(); after != l.before {
		l.t.Errorf("host namespace changed:\n--- before\n%s\n--- after\n%s", l.before, after)
	}
}

// httpGetFrom fetches / from addr inside namespace ns with a short
// timeout and returns the answer, "" on any failure.
func httpGetFrom(ns, addr string) string {
	var out string
	inNS(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 20*time.Millisecond)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		out = string(buf[:n])
		return nil
	})
	return out
}

// linksOf lists the interfaces inside the running container name.
func linksOf(t *testing.T, name string) string {
	t.Helper()
	out, err := dockertest.Exec(t, name, "ls", "/sys/class/net")
	if err != nil {
		t.Fatalf("listing the interfaces of %s: %v\n%s", name, err, out)
	}
	return strings.Join(strings.Fields(out), " ")
}

// macOf is the MAC of eth0 inside the running container name.
func macOf(t *testing.T, name string) string {
	t.Helper()
	out, err := dockertest.Exec(t, name, "cat", "/sys/class/net/eth0/address")
	if err != nil {
		t.Fatalf("reading the MAC of %s: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(out)
}

// startEvents are the times of Docker's start events since the test
// began following them, by container id.
type startEvents struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

// followStarts follows Docker's container start events until the test ends.
func followStarts(t *testing.T) *startEvents {
	t.Helper()
	c, err := docker.NewClientFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s := &startEvents{seen: map[string][]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.ContainerEvents(ctx, docker.Follow{Actions: []string{"start"}, Ready: func() { close(ready) }}, func(e docker.Event) {
			s.mu.Lock()
			s.seen[e.ID] = append(s.seen[e.ID], e.Time)
			s.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case <-time.After(restartDeadline):
		t.Fatal("docker events does not answer")
	}
	return s
}

// count is how many start events of container id were seen so far.
func (s *startEvents) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen[id])
}

// nth waits for the n-th start event of container id (1: the first since
// following began) and returns its time.
func (s *startEvents) nth(t *testing.T, id string, n int) time.Time {
	t.Helper()
	for deadline := time.Now().Add(restartDeadline); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		seen := s.seen[id]
		s.mu.Unlock()
		if len(seen) >= n {
			return seen[n-1]
		}
	}
	t.Fatalf("no start event number %d of %s", n, id[:12])
	return time.Time{}
}

// timings collects start→reachable times for the log.
type timings struct {
	mu  sync.Mutex
	all []time.Duration
}

func (tm *timings) add(d time.Duration) {
	tm.mu.Lock()
	tm.all = append(tm.all, d)
	tm.mu.Unlock()
}

func (tm *timings) String() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	s := append([]time.Duration(nil), tm.all...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprintf("n=%d p50=%v max=%v", len(s), s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
