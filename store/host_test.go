package store

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/plumbnet/plumb/internal/etcdtest"
)

func host(name, addr string) Host {
	return Host{Name: name, Underlay: netip.MustParseAddr(addr), VTEPMAC: "02:00:00:00:00:01"}
}

func hostNames(t *testing.T, s *Store) []string {
	t.Helper()
	hs, err := s.Hosts(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hs {
		names = append(names, h.Name)
	}
	return names
}

func has(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// Join puts the record under a lease; Close revokes it: gone at once.
func TestJoinClose(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	m, err := s.Join(ctx, host("h1", "192.0.2.1"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := s.Hosts(ctx)
	if err != nil || len(hs) != 1 || hs[0].Name != "h1" || hs[0].Underlay.String() != "192.0.2.1" || hs[0].Lease != m.Lease() {
		t.Fatalf("Hosts = %+v, %v; want h1 under lease %x", hs, err, m.Lease())
	}
	if ttl, err := s.LeaseTTL(ctx, hs[0]); err != nil || ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("LeaseTTL = %v, %v; want 0 < ttl <= 10s", ttl, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if names := hostNames(t, s); len(names) != 0 {
		t.Fatalf("after Close, Hosts = %v; want none at once", names)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Join(ctx, Host{Name: "h2"}, time.Second); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Join without an underlay address: %v; want ErrInvalid", err)
	}
}

// A host whose client dies without revoking its lease disappears after
// the TTL.
func TestJoinExpires(t *testing.T) {
	urls := etcdtest.Start(t, 1)
	watcher := openOn(t, urls)
	dying, err := Open(ctxT(t), urls)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dying.Join(ctxT(t), host("h1", "192.0.2.1"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if !has(hostNames(t, watcher), "h1") {
		t.Fatal("h1 not listed after Join")
	}
	dying.Close() // the keepalive stops; the lease is not revoked
	waitFor(t, 15*time.Second, "h1's record to expire", func() bool { return !has(hostNames(t, watcher), "h1") })
}

// When its lease is lost (revoked behind its back here; expired during an
// outage in TestJoinOutage) the membership joins again with a new lease.
func TestJoinRejoins(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	m, err := s.Join(ctx, host("h1", "192.0.2.1"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	old := m.Lease()
	if _, err := s.cli.Revoke(ctx, clientv3.LeaseID(old)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "h1 back under a new lease", func() bool {
		hs, err := s.Hosts(ctx)
		return err == nil && len(hs) == 1 && hs[0].Lease != old && hs[0].Lease == m.Lease()
	})
}

// etcd down for longer than the TTL: the client's keepalive gives up, and
// when etcd is back the host is recorded under a new lease, which outlives
// the old one.
func TestJoinOutage(t *testing.T) {
	c := etcdtest.StartCluster(t, 1)
	s := openOn(t, c.ClientURLs())
	m, err := s.Join(ctxT(t), host("h1", "192.0.2.1"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	old := m.Lease()
	c.Members[0].Kill()
	// The keepalive stream ends one TTL after the last answer; then the
	// membership retries. Restarting etcd earlier would only delay this.
	waitFor(t, 15*time.Second, "the keepalive to give up", func() bool { return !m.Alive() })
	c.Members[0].Restart()
	waitFor(t, 20*time.Second, "a new lease", func() bool { return m.Lease() != old })
	ctx := ctxT(t)
	waitFor(t, 20*time.Second, "the old lease to expire", func() bool {
		r, err := s.cli.TimeToLive(ctx, clientv3.LeaseID(old))
		return err == nil && r.TTL == -1
	})
	hs, err := s.Hosts(ctx)
	if err != nil || len(hs) != 1 || hs[0].Lease != m.Lease() {
		t.Fatalf("Hosts after the outage = %+v, %v; want h1 under lease %x", hs, err, m.Lease())
	}
}
