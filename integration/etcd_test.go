package integration

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/etcdtest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// etcdtest.StartIn runs members inside a network namespace, on its own
// addresses: a 3-member cluster in one throwaway netns comes up (health
// asked from inside it), is not reachable from the host's namespace, and
// survives one member killed and restarted.
func TestPrivilegedEtcdInNetns(t *testing.T) {
	testutil.RequirePrivileged(t)
	etcdtest.Require(t)
	ns := testutil.NewNetNS(t)
	const base = 42379 // the namespace is ours: any port is free in it
	var initial []string
	for i := 0; i < 3; i++ {
		initial = append(initial, fmt.Sprintf("e%d=http://127.0.0.1:%d", i, base+10*i+1))
	}
	var members []*etcdtest.Member
	for i := 0; i < 3; i++ {
		members = append(members, etcdtest.StartIn(t, ns, fmt.Sprintf("e%d", i),
			fmt.Sprintf("http://127.0.0.1:%d", base+10*i+1), fmt.Sprintf("http://127.0.0.1:%d", base+10*i),
			strings.Join(initial, ",")))
	}
	for _, m := range members {
		m.WaitReady()
	}
	for _, m := range members {
		addr := strings.TrimPrefix(m.ClientURL, "http://")
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			t.Fatalf("member %s answers on %s from the host's namespace: not confined to %s", m.Name, addr, ns)
		}
	}
	members[1].Kill()
	members[0].WaitReady()
	members[2].WaitReady()
	members[1].Restart()
}
