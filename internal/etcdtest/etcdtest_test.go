package etcdtest

import (
	"net/url"
	"testing"
)

// One member comes up and answers /health on the URL Start returned.
func TestStartOne(t *testing.T) {
	urls := Start(t, 1)
	if len(urls) != 1 {
		t.Fatalf("Start(t, 1) returned %d URLs: %v", len(urls), urls)
	}
	if u, err := url.Parse(urls[0]); err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
		t.Fatalf("client URL %q: want http://127.0.0.1:PORT (%v)", urls[0], err)
	}
}

// A 3-member cluster stays healthy with one member killed, and the killed
// member rejoins on Restart; Kill is safe to repeat.
func TestKillRestart(t *testing.T) {
	c := StartCluster(t, 3)
	m := c.Members[1]
	pid := m.PID()
	if pid == 0 {
		t.Fatal("running member reports PID 0")
	}
	m.Kill()
	m.Kill()
	if m.PID() != 0 {
		t.Fatalf("killed member still reports PID %d", m.PID())
	}
	if err := m.healthy(); err == nil {
		t.Fatal("killed member still answers /health")
	}
	for _, other := range []*Member{c.Members[0], c.Members[2]} {
		if err := other.waitReady(readyTimeout); err != nil {
			t.Fatalf("survivor: %v", err)
		}
	}
	m.Restart()
	if m.PID() == 0 || m.PID() == pid {
		t.Fatalf("restarted member PID %d (was %d)", m.PID(), pid)
	}
}
