package nsview

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// pairOfNamespaces makes two throwaway namespaces joined by a veth, a
// 10.77.0.1/24 on one end (in a), 10.77.0.2/24 on the other (in b), and a
// default route in a via 10.77.0.2. It returns a's and b's names.
func pairOfNamespaces(t *testing.T) (string, string) {
	a, b := testutil.NewNetNS(t), testutil.NewNetNS(t)
	testutil.Run(t, "ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0", "netns", b)
	testutil.Run(t, "ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", "eth0")
	testutil.Run(t, "ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", "peer0")
	testutil.Run(t, "ip", "-n", a, "link", "set", "eth0", "up")
	testutil.Run(t, "ip", "-n", b, "link", "set", "peer0", "up")
	testutil.Run(t, "ip", "-n", a, "route", "add", "default", "via", "10.77.0.2")
	return a, b
}

func nsPath(name string) string { return filepath.Join("/var/run/netns", name) }

func TestPrivilegedListening(t *testing.T) {
	a, _ := pairOfNamespaces(t)
	pid := startListener(t, a, "8089")
	socks, err := Listening(nsPath(a))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]netip.AddrPort{
		"tcp": netip.MustParseAddrPort("0.0.0.0:8089"),
		"udp": netip.MustParseAddrPort("127.0.0.1:8089"),
	}
	for _, s := range socks {
		if w, ok := want[s.Proto]; ok && s.Local == w {
			if s.PID != pid || s.Command != "nsview.test" {
				t.Errorf("%s %s owned by %d %q, want %d nsview.test", s.Proto, s.Local, s.PID, s.Command, pid)
			}
			delete(want, s.Proto)
		}
	}
	if len(want) > 0 {
		t.Errorf("not found: %v among %+v", want, socks)
	}
	procs, err := Processes(nsPath(a))
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 || procs[0].PID != pid {
		t.Errorf("processes = %+v, want only %d", procs, pid)
	}
}

func TestPrivilegedRead(t *testing.T) {
	a, b := pairOfNamespaces(t)
	v, err := Read(nsPath(a))
	if err != nil {
		t.Fatal(err)
	}
	bv, err := Read(nsPath(b))
	if err != nil {
		t.Fatal(err)
	}
	eth0, peer := find(v.Links, "eth0"), find(bv.Links, "peer0")
	if eth0 == nil || peer == nil {
		t.Fatalf("links: %+v / %+v", v.Links, bv.Links)
	}
	if eth0.Kind != "veth" || eth0.PeerIndex != peer.Index || !eth0.Up || eth0.MTU != 1500 || eth0.MAC == "" {
		t.Errorf("eth0 = %+v, peer index %d", eth0, peer.Index)
	}
	if len(eth0.Addrs) == 0 || eth0.Addrs[0] != netip.MustParsePrefix("10.77.0.1/24") {
		t.Errorf("eth0 addrs = %v", eth0.Addrs)
	}
	var dflt bool
	for _, r := range v.Routes {
		if r.Dst.Bits() == 0 && r.Dst.Addr().Is4() {
			dflt = r.Gateway == netip.MustParseAddr("10.77.0.2") && r.Dev == "eth0"
		}
	}
	if !dflt {
		t.Errorf("no default route via 10.77.0.2 dev eth0 in %+v", v.Routes)
	}
	r, err := RouteGet(nsPath(a), netip.MustParseAddr("192.0.2.9"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Gateway != netip.MustParseAddr("10.77.0.2") || r.Dev != "eth0" || r.Src != netip.MustParseAddr("10.77.0.1") {
		t.Errorf("route get = %+v", r)
	}
}

func TestPrivilegedNeighbours(t *testing.T) {
	a, _ := pairOfNamespaces(t)
	if out, err := exec.Command("ip", "netns", "exec", a, "ping", "-c1", "-W2", "10.77.0.2").CombinedOutput(); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	v, err := Read(nsPath(a))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range v.Neighbours {
		if n.IP == netip.MustParseAddr("10.77.0.2") && n.Dev == "eth0" && n.MAC != "" {
			return
		}
	}
	t.Errorf("no neighbour 10.77.0.2 on eth0 in %+v", v.Neighbours)
}

func TestUnknownNamespace(t *testing.T) {
	if _, err := Read("/nonexistent/ns"); err == nil {
		t.Error("Read of a missing path: no error")
	}
	if _, err := Processes("/nonexistent/ns"); err == nil {
		t.Error("Processes of a missing path: no error")
	}
}

func find(ls []Link, name string) *Link {
	for i := range ls {
		if ls[i].Name == name {
			return &ls[i]
		}
	}
	return nil
}
