package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/network"
)

// fakeTargets records the specs it is asked to resolve and resolves none,
// as if each container had stopped again: a repair goes as far as that,
// under its network's lock, and changes nothing.
type fakeTargets struct {
	mu    sync.Mutex
	specs []string
}

func (f *fakeTargets) Resolve(_ context.Context, spec string) (*container.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, spec)
	return nil, fmt.Errorf("container %q is %w", spec, container.ErrNotRunning)
}

// TestContainerStartedRepairsItsEndpointsOnly: a start repairs each
// endpoint of that container whose namespace is gone, on every network,
// and no other: not one whose namespace lives, not another container's,
// not a CNI attachment's of the same id; an id that is no container id,
// or has no record, costs nothing.
func TestContainerStartedRepairsItsEndpointsOnly(t *testing.T) {
	s := newState(t)
	id, other := id64('a'), id64('b')
	record := func(netName, subnet, epID, containerID, kind, target string, alive bool) {
		s.network(netName, subnet, false)
		p := netip.MustParsePrefix(subnet)
		ep := dockerEP(t, containerID, alive)
		ep.ID, ep.Network, ep.Target, ep.Kind = epID, netName, target, kind
		ep.IP, ep.MAC, ep.IfName = netip.PrefixFrom(p.Addr().Next().Next(), p.Bits()), "02:42:0a:00:00:02", "eth0"
		s.write(filepath.Join(s.m.StateDir, "networks", netName, "endpoints", epID+".json"), ep)
	}
	record("n1", "10.1.0.0/24", id, id, "docker", "web", false)
	record("n2", "10.2.0.0/24", id, id, "docker", "web", false)
	record("n5", "10.5.0.0/24", id, id, "docker", "web-alive", true)
	record("n3", "10.3.0.0/24", other, other, "docker", "db", false)
	record("n4", "10.4.0.0/24", id, id, network.KindCNI, "cni:x", false)
	tg := &fakeTargets{}
	s.m.Targets = tg
	d := s.daemon()

	d.containerStarted(id)
	if !slices.Equal(tg.specs, []string{"web", "web"}) {
		t.Fatalf("a start of %s resolved %q, want its two endpoints' target", id[:12], tg.specs)
	}
	for _, bad := range []string{id64('c'), "../n1/endpoints/" + id, id[:12], ""} {
		d.containerStarted(bad)
	}
	if len(tg.specs) != 2 {
		t.Fatalf("starts of containers without records resolved %q", tg.specs[2:])
	}
	if eps := d.dockerEndpoints(); len(eps) != 4 {
		t.Errorf("dockerEndpoints = %d records, want the 4 of Docker containers", len(eps))
	}
}
