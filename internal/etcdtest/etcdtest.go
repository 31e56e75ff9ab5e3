// Package etcdtest starts REAL etcd servers for plumb's tests: Debian's
// etcd-server (/usr/bin/etcd, 3.4; lab/provision.sh installs it), one
// process per member, each with its own t.TempDir() data directory and its
// own ports, killed by process group at cleanup. No fakes, no embedded
// server.
//
//	urls := etcdtest.Start(t, 1)            // one member on 127.0.0.1
//	c := etcdtest.StartCluster(t, 3)        // three members; c.Members[1].Kill()
//	m := etcdtest.StartIn(t, ns, "h1", "http://10.9.0.1:2380",
//		"http://10.9.0.1:2379", "h1=http://10.9.0.1:2380,h2=...")
//
// A test skips when /usr/bin/etcd is missing, or fails when
// PLUMB_REQUIRE_ETCD is set (CI sets it), like PLUMB_REQUIRE_DOCKER does
// for dockerd.
package etcdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// Binary is the etcd server the tests run.
	Binary = "/usr/bin/etcd"

	// readyTimeout bounds how long a member (or a whole cluster) may take
	// to answer /health; a shared 2-core machine is slow, not that slow.
	readyTimeout = 30 * time.Second
)

// Require skips t unless Binary exists; with PLUMB_REQUIRE_ETCD set a
// missing etcd fails the test instead.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err == nil {
		return
	}
	reason := fmt.Sprintf("etcd test: %s not found (install Debian's etcd-server: sudo bash lab/provision.sh)", Binary)
	if os.Getenv("PLUMB_REQUIRE_ETCD") != "" {
		t.Fatalf("%s, and PLUMB_REQUIRE_ETCD is set", reason)
	}
	t.Skip(reason)
}

// Member is one running (or killed) etcd process.
type Member struct {
	Name      string
	ClientURL string // http://ADDR:PORT, what a client dials
	PeerURL   string // http://ADDR:PORT, what the other members dial
	NetNS     string // the network namespace it runs in; "" for the test's own
	DataDir   string
	LogPath   string // its stderr: the zap log, appended across restarts

	t       testing.TB
	args    []string
	mu      sync.Mutex
	cmd     *exec.Cmd
	waitErr chan error
}

// Cluster is a set of members started together.
type Cluster struct {
	Members []*Member
}

// ClientURLs returns every member's client URL, in member order.
func (c *Cluster) ClientURLs() []string {
	urls := make([]string, len(c.Members))
	for i, m := range c.Members {
		urls[i] = m.ClientURL
	}
	return urls
}

// Start runs an n-member etcd cluster on 127.0.0.1 (free ports, fresh data
// directories), waits until every member answers /health, registers the
// members' kill with t.Cleanup, and returns their client URLs.
func Start(t testing.TB, n int) []string {
	t.Helper()
	return StartCluster(t, n).ClientURLs()
}

// StartCluster is Start returning the members, so a test can Kill and
// Restart one of them.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	Require(t)
	if n < 1 {
		t.Fatalf("etcdtest: a cluster needs at least one member, not %d", n)
	}
	// A free port found here may be taken by someone else before etcd binds
	// it: then the cluster does not come up, and a second try picks others.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := startLoopback(t, n)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("etcdtest: starting a %d-member cluster: %v", n, lastErr)
	return nil
}

// startLoopback starts n members on 127.0.0.1 and waits for them all; on
// failure it kills what it started and returns the error.
func startLoopback(t testing.TB, n int) (*Cluster, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	token := filepath.Base(dir)
	c := &Cluster{}
	var initial []string
	for i := 0; i < n; i++ {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			DataDir:   filepath.Join(dir, fmt.Sprintf("m%d.etcd", i)),
			LogPath:   filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
			t:         t,
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.args = memberArgs(m, strings.Join(initial, ","), token)
	}
	for _, m := range c.Members {
		if err := m.spawn(); err != nil {
			c.killAll()
			return nil, err
		}
		t.Cleanup(m.Kill)
	}
	for _, m := range c.Members {
		if err := m.waitReady(readyTimeout); err != nil {
			c.killAll()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) killAll() {
	for _, m := range c.Members {
		m.Kill()
	}
}

// StartIn runs one member named name inside the network namespace netns
// (`ip netns exec NETNS etcd ...`), listening on the addresses of peerURL
// and clientURL (which must be the namespace's own), as part of the
// cluster initialCluster ("h1=http://10.9.0.1:2380,h2=..."). It returns
// once the process runs, without waiting for the cluster: its peers start
// after it. Call WaitReady on every member once all are started. Killed at
// cleanup.
func StartIn(t testing.TB, netns, name, peerURL, clientURL, initialCluster string) *Member {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	m := &Member{
		Name: name, ClientURL: clientURL, PeerURL: peerURL, NetNS: netns,
		DataDir: filepath.Join(dir, name+".etcd"),
		LogPath: filepath.Join(dir, name+".log"),
		t:       t,
	}
	m.args = memberArgs(m, initialCluster, "plumb-"+strings.ReplaceAll(initialCluster, "/", ""))
	if err := m.spawn(); err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(m.Kill)
	return m
}

// memberArgs returns the etcd command line of m. Lease checkpoints are on,
// so a leader change does not give every lease its full TTL back (a dead
// host's lease still expires on time when the leader dies with it).
func memberArgs(m *Member, initialCluster, token string) []string {
	return []string{
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", initialCluster,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", token,
		"--experimental-enable-lease-checkpoint",
		"--logger", "zap", "--log-outputs", "stderr",
	}
}

// freePorts returns n distinct TCP ports of 127.0.0.1 that were free a
// moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
