package store

import (
	"context"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/etcdtest"
)

// leader returns the index of the cluster's leader among c's members.
func leader(t *testing.T, s *Store, c *etcdtest.Cluster) int {
	t.Helper()
	for i, m := range c.Members {
		st, err := s.cli.Status(ctxT(t), m.ClientURL)
		if err == nil && st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no member says it is the leader")
	return -1
}

// A 3-member cluster with its leader killed keeps working for a client
// that knows all three: writes, claims, joins and a running watch; and the
// killed member rejoins.
func TestClusterMemberKilled(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	s := openOn(t, c.ClientURLs())
	ctx := ctxT(t)
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, rev, err := s.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := s.Watch(wctx, rev+1)
	m1, err := s.Join(ctx, host("h1", "192.0.2.1"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	if got := describe(next(t, ch)); got != "host put h1 192.0.2.1" {
		t.Fatalf("before the kill: %q", got)
	}

	dead := leader(t, s, c)
	c.Members[dead].Kill()
	t.Logf("killed the leader, member %d", dead)

	nw := mustNet(t, s, "blue", "10.20.0.0/24")
	if _, err := s.ClaimBlock(ctx, "blue", "h1", nw.Subnet, 26); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEndpoint(ctx, ep("blue", "c1", "h1", "10.20.0.2/24", "02:42:0a:14:00:02")); err != nil {
		t.Fatal(err)
	}
	m2, err := s.Join(ctx, host("h2", "192.0.2.2"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	for _, want := range []string{"network put blue vni=4096", "block put blue/10.20.0.0/26 h1",
		"endpoint put blue/c1 10.20.0.2/24", "host put h2 192.0.2.2"} {
		if got := describe(next(t, ch)); got != want {
			t.Fatalf("after the kill: %q; want %q", got, want)
		}
	}
	if names := hostNames(t, s); len(names) != 2 {
		t.Fatalf("hosts with a member down: %v; want h1 and h2", names)
	}

	c.Members[dead].Restart()
	if err := s.DeleteEndpoint(ctx, "blue", "c1"); err != nil {
		t.Fatal(err)
	}
	if got := describe(next(t, ch)); got != "endpoint delete blue/c1 10.20.0.2/24" {
		t.Fatalf("after the restart: %q", got)
	}
}
