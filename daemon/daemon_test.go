package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/portmap"
)

// state is a state directory the test writes by hand, in network's
// on-disk format, and a daemon over it whose listeners the test never
// needs root for: CNI endpoints (no listener in a namespace), gateways on
// addresses this host does not have (the bind fails and is logged).
type state struct {
	t   *testing.T
	dir string
	m   *network.Manager
}

func newState(t *testing.T) *state {
	return &state{t: t, dir: t.TempDir(), m: network.NewManager(t.TempDir())}
}

func (s *state) write(path string, v any) {
	s.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *state) network(name, subnet string, internal bool) *network.Network {
	p := netip.MustParsePrefix(subnet)
	n := &network.Network{Name: name, ID: strings.Repeat("a", 64), Driver: "bridge", Bridge: "pb-" + name,
		Subnet: p, Gateway: netip.MustParseAddr("192.0.2.1"), Internal: internal}
	s.write(filepath.Join(s.m.StateDir, "networks", name, "network.json"), n)
	return n
}

// endpoint records a CNI endpoint whose "namespace" is a temp file: alive
// while the file is there.
func (s *state) endpoint(netName, id, ip string, names ...string) *network.Endpoint {
	ns := filepath.Join(s.dir, id)
	os.WriteFile(ns, nil, 0o644)
	var st unix.Stat_t
	unix.Stat(ns, &st)
	ep := &network.Endpoint{ID: id, Network: netName, Kind: network.KindCNI, ContainerName: names[0], Aliases: names[1:],
		NetNS: ns, NetNSInode: st.Ino, IP: netip.MustParsePrefix(ip + "/24"), Created: time.Now()}
	s.write(filepath.Join(s.m.StateDir, "networks", netName, "endpoints", id+".json"), ep)
	return ep
}

func (s *state) daemon() *daemon {
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{state: s.m, names: newNameService(ctx, nil), ports: newPortHolder(), reaper: newReaper()}
	s.t.Cleanup(func() { cancel(); d.close() })
	return d
}

func names(recs []control.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Network+"/"+r.Name+"="+r.IP)
	}
	slices.Sort(out)
	return out
}

// TestUpDownAndSyncFollowTheState: the daemon's names are those of the
// records it was told of, and sync makes them exactly the live records.
func TestUpDownAndSyncFollowTheState(t *testing.T) {
	s := newState(t)
	s.network("n1", "10.1.0.0/24", false)
	s.endpoint("n1", "e1", "10.1.0.2", "web", "www")
	e2 := s.endpoint("n1", "e2", "10.1.0.3", "db")
	d := s.daemon()

	if rep := d.handle(control.Request{Op: control.OpUp, Network: "n1", Endpoint: "e1"}); rep.Error != "" {
		t.Fatal(rep.Error)
	}
	if got := names(d.names.records("")); !slices.Equal(got, []string{"n1/web=10.1.0.2", "n1/www=10.1.0.2"}) {
		t.Fatalf("after up e1: %v", got)
	}
	if rep := d.handle(control.Request{Op: control.OpUp, Network: "n1", Endpoint: "nope"}); rep.Error == "" {
		t.Fatal("up of an endpoint with no record succeeded")
	}
	d.handle(control.Request{Op: control.OpSync})
	if got := names(d.names.records("n1")); !slices.Equal(got, []string{"n1/db=10.1.0.3", "n1/web=10.1.0.2", "n1/www=10.1.0.2"}) {
		t.Fatalf("after sync: %v", got)
	}
	// e2's namespace goes: the next sync drops its names.
	os.Remove(e2.NetNS)
	d.handle(control.Request{Op: control.OpSync})
	if got := names(d.names.records("")); !slices.Equal(got, []string{"n1/web=10.1.0.2", "n1/www=10.1.0.2"}) {
		t.Fatalf("after e2's namespace went: %v", got)
	}
	d.handle(control.Request{Op: control.OpDown, Network: "n1", Endpoint: "e1"})
	if got := d.names.records(""); len(got) != 0 {
		t.Fatalf("after down e1: %v", got)
	}
}

// TestScopeFollowsTheNetworksOfANamespace: a namespace's scope lists its
// networks first attached first, and is internal only when all are.
func TestScopeFollowsTheNetworksOfANamespace(t *testing.T) {
	s := newState(t)
	ns := s.daemon().names
	ns.nets = map[string]*network.Network{"a": {Name: "a", Internal: true}, "b": {Name: "b"}}
	t0 := time.Now()
	sb := &sandbox{eps: map[string]*network.Endpoint{
		"b": {Network: "b", Created: t0.Add(time.Second)},
		"a": {Network: "a", Created: t0},
	}}
	ns.rescope(sb)
	if sc := sb.scope.Load(); !slices.Equal(sc.Networks, []string{"a", "b"}) || sc.Internal {
		t.Fatalf("scope = %+v, want a then b, not internal", sc)
	}
	delete(sb.eps, "b")
	ns.rescope(sb)
	if sc := sb.scope.Load(); !slices.Equal(sc.Networks, []string{"a"}) || !sc.Internal {
		t.Fatalf("scope = %+v, want a only, internal", sc)
	}
}

// TestHoldAndReleaseThroughTheProtocol: the holder answers hold and
// release, reports a taken port with the in-use code, and a sync holds
// the recorded ports and lets none go.
func TestHoldAndReleaseThroughTheProtocol(t *testing.T) {
	s := newState(t)
	d := s.daemon()
	lo := netip.MustParseAddr("127.0.0.1")
	rep := d.handle(control.Request{Op: control.OpHold, Network: "n1", Endpoint: "e1", Ports: []portmap.Request{{Proto: "tcp", HostIP: lo, Port: 80}}})
	if rep.Error != "" || len(rep.Ports) != 1 {
		t.Fatalf("hold: %+v", rep)
	}
	port := rep.Ports[0].HostPort
	taken := d.handle(control.Request{Op: control.OpHold, Network: "n1", Endpoint: "e2", Ports: []portmap.Request{{Proto: "tcp", HostIP: lo, HostPort: port, HostPortEnd: port, Port: 80}}})
	if taken.Code != control.CodeInUse || !strings.Contains(taken.Error, "already in use") {
		t.Fatalf("hold of a taken port: %+v", taken)
	}
	// No record publishes e1's port yet: a sync keeps it all the same (an
	// attach takes its ports before it writes its record); a release lets
	// it go.
	d.handle(control.Request{Op: control.OpSync})
	if ln, err := net.Listen("tcp4", netip.AddrPortFrom(lo, port).String()); err == nil {
		ln.Close()
		t.Fatalf("port %d let go by a sync while its attach may be in progress", port)
	}
	d.handle(control.Request{Op: control.OpRelease, Network: "n1", Endpoint: "e1"})
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(lo, port).String())
	if err != nil {
		t.Fatalf("port %d still held after its release: %v", port, err)
	}
	ln.Close()
	// A record with a port: the sync takes it.
	s.network("n1", "10.1.0.0/24", false)
	ep := s.endpoint("n1", "e1", "10.1.0.2", "web")
	ep.Ports = []portmap.Mapping{{Proto: "tcp", HostIP: lo, HostPort: port, Port: 80}}
	s.write(filepath.Join(s.m.StateDir, "networks", "n1", "endpoints", "e1.json"), ep)
	d.handle(control.Request{Op: control.OpSync})
	if ln, err := net.Listen("tcp4", netip.AddrPortFrom(lo, port).String()); err == nil {
		ln.Close()
		t.Fatalf("port %d not held after a sync with a record of it", port)
	}
	d.handle(control.Request{Op: control.OpRelease, Network: "n1", Endpoint: "e1"})
	if ln, err := net.Listen("tcp4", netip.AddrPortFrom(lo, port).String()); err != nil {
		t.Fatalf("port %d still held after release: %v", port, err)
	} else {
		ln.Close()
	}
}

func TestBadRequests(t *testing.T) {
	d := newState(t).daemon()
	for _, req := range []control.Request{{Op: "explode"}, {Op: control.OpReap}, {Op: control.OpReap, Reap: &control.Reap{Name: "pgone1", Index: 1, NetNS: 1}}} {
		if rep := d.handle(req); rep.Error == "" {
			t.Errorf("%+v: no error", req)
		}
	}
}

// TestReaper: a reap in another namespace is refused (the caller deletes
// the pair itself); one in the daemon's own namespace is accepted, and a
// link that is no longer the one named (index reused, or gone) is left
// alone: DeleteRetired checks name and index before it deletes.
func TestReaper(t *testing.T) {
	rp := newReaper()
	if rp.ino == 0 {
		t.Skip("no /proc/self/ns/net")
	}
	if err := rp.reap(control.Reap{Name: "pgone1", Index: 1, NetNS: rp.ino + 1}); err == nil {
		t.Fatal("reap in another namespace accepted")
	}
	// Index 1 is lo, never a retired veth of that name: nothing happens.
	if err := rp.reap(control.Reap{Name: "pgone1", Index: 1, NetNS: rp.ino}); err != nil {
		t.Fatal(err)
	}
	rp.wait()
	if _, err := net.InterfaceByIndex(1); err != nil {
		t.Fatalf("lo is gone after a reap naming its index: %v", err)
	}
}

// TestSyncRelaysIPv6Loopback: a daemon started again holds a recorded
// [::1] port as a relay to the endpoint's IPv6 address, loopback here.
func TestSyncRelaysIPv6Loopback(t *testing.T) {
	s := newState(t)
	d := s.daemon()
	srv, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	lo6 := netip.MustParseAddr("::1")
	free, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.Addr().(*net.TCPAddr).AddrPort().Port()
	free.Close()
	s.network("n1", "10.1.0.0/24", false)
	ep := s.endpoint("n1", "e1", "10.1.0.2", "web")
	ep.IP6 = netip.PrefixFrom(lo6, 128)
	ep.Ports = []portmap.Mapping{{Proto: "tcp", HostIP: lo6, HostPort: port, Port: srv.Addr().(*net.TCPAddr).AddrPort().Port()}}
	s.write(filepath.Join(s.m.StateDir, "networks", "n1", "endpoints", "e1.json"), ep)
	d.handle(control.Request{Op: control.OpSync})
	t.Cleanup(func() { d.handle(control.Request{Op: control.OpRelease, Network: "n1", Endpoint: "e1"}) })
	c, err := net.Dial("tcp6", netip.AddrPortFrom(lo6, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
		t.Fatalf("through the relay of [::1]:%d: %q, %v", port, b, err)
	}
}
