package overlay

import (
	"errors"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/testutil"
)

// Three hosts: the gateway is answered locally and nothing crosses the
// underlay until remotes are programmed; then every container reaches
// every other by address; removing the remotes stops the traffic.
func TestPrivilegedOverlayAcrossHosts(t *testing.T) {
	hosts := newLab(t, 3)
	for _, x := range hosts {
		if !pings(x, labGW) {
			t.Fatalf("%s cannot ping its gateway", x.ip)
		}
		if got := gatewayMAC(t, x); got != x.brMAC.String() {
			t.Fatalf("%s resolved the gateway to %s, want its own host's bridge %s", x.ip, got, x.brMAC)
		}
		// Its ARP for a remote address, unprogrammed, goes nowhere.
		if pings(x, "10.200.0.99") {
			t.Fatal("an unknown address answered")
		}
	}
	for _, x := range hosts {
		if rx, tx := vxStats(t, x); rx != 0 || tx != 0 {
			t.Fatalf("host %s: vxlan rx %d tx %d before any remote: something crossed", x.underlay, rx, tx)
		}
	}
	program(t, hosts)
	for _, x := range hosts {
		for _, y := range hosts {
			if x != y {
				reaches(t, x, y.ip)
			}
		}
		if got := gatewayMAC(t, x); got != x.brMAC.String() {
			t.Fatalf("%s: gateway now %s, want %s", x.ip, got, x.brMAC)
		}
	}
	// A full-size frame at the overlay MTU (1450: 1422 bytes of ICMP
	// payload + 28 of headers) crosses unfragmented.
	if out, err := testutil.InNS(hosts[0].ctr, "ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1422", hosts[1].ip.String()); err != nil {
		t.Fatalf("full-size ping across hosts: %v\n%s", err, out)
	}
	// h1 forgets h2's container: h1 -> h2 stops, h1 -> h3 goes on.
	h1, h2, h3 := hosts[0], hosts[1], hosts[2]
	if err := DelRemote(h1.h, labVX, h2.remote()); err != nil {
		t.Fatal(err)
	}
	if pings(h1, h2.ip.String()) {
		t.Fatal("traffic to a removed remote still flows")
	}
	reaches(t, h1, h3.ip)
	if err := AddRemote(h1.h, labVX, h2.remote()); err != nil {
		t.Fatal(err)
	}
	reaches(t, h1, h2.ip)
}

func TestPrivilegedEnsureMTUAndNoOp(t *testing.T) {
	x := newLab(t, 1)[0]
	l, err := x.h.LinkByName(labVX)
	if err != nil {
		t.Fatal(err)
	}
	vx := l.(*netlink.Vxlan)
	if vx.MTU != labUMTU-50 || vx.VxlanId != labVNI || vx.Port != DefaultPort || vx.Learning || !vx.Proxy {
		t.Fatalf("vxlan: mtu %d vni %d port %d learning %v proxy %v", vx.MTU, vx.VxlanId, vx.Port, vx.Learning, vx.Proxy)
	}
	pi, err := x.h.LinkGetProtinfo(l)
	if err != nil || pi.Learning {
		t.Fatalf("bridge port learning %v (%v)", pi.Learning, err)
	}
	// A second Ensure writes nothing: no notification names the device
	// before the one a sentinel write causes. (First wait for the kernel's
	// own, late, operstate notification of the device going up.)
	testutil.WaitFor(t, "vxlan operstate out of down", func() bool {
		l, err := x.h.LinkByName(labVX)
		return err == nil && l.Attrs().OperState != netlink.OperDown
	})
	updates := subscribe(t, x.ns)
	idx, err := Ensure(x.h, x.config())
	if err != nil || idx != vx.Index {
		t.Fatalf("second Ensure: %d %v, want %d", idx, err, vx.Index)
	}
	testutil.Run(t, "ip", "-n", x.ns, "link", "add", "sentinel", "type", "bridge")
	for u := range updates {
		if u.Attrs().Name == labVX {
			t.Fatalf("second Ensure changed %s: %+v", labVX, u.Attrs())
		}
		if u.Attrs().Name == "sentinel" {
			break
		}
	}
	// An underlay of another MTU: its own less 50.
	testutil.Run(t, "ip", "-n", x.ns, "link", "set", "eth0", "mtu", "1400")
	if _, err := Ensure(x.h, x.config()); err != nil {
		t.Fatal(err)
	}
	if l, _ := x.h.LinkByName(labVX); l.Attrs().MTU != 1350 {
		t.Fatalf("mtu %d over a 1400 underlay, want 1350", l.Attrs().MTU)
	}
}

// subscribe returns the link notifications of namespace ns.
func subscribe(t *testing.T, ns string) <-chan netlink.LinkUpdate {
	t.Helper()
	ch, done := make(chan netlink.LinkUpdate, 64), make(chan struct{})
	t.Cleanup(func() { close(done) })
	h := nsHandle(t, ns)
	if err := netlink.LinkSubscribeAt(h, ch, done); err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestPrivilegedEnsureRepairsDrift(t *testing.T) {
	hosts := newLab(t, 2)
	program(t, hosts)
	h1, h2 := hosts[0], hosts[1]
	reaches(t, h1, h2.ip)
	l, _ := h1.h.LinkByName(labVX)
	for _, err := range []error{
		h1.h.LinkSetNoMaster(l), h1.h.LinkSetMTU(l, 1300), h1.h.LinkSetDown(l),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	testutil.Run(t, "ip", "-n", h1.ns, "link", "add", "other", "type", "bridge")
	testutil.Run(t, "ip", "-n", h1.ns, "link", "set", labVX, "master", "other")
	testutil.Run(t, "ip", "-n", h1.ns, "link", "set", labVX, "type", "bridge_slave", "learning", "on")
	idx, err := Ensure(h1.h, h1.config())
	if err != nil || idx != l.Attrs().Index {
		t.Fatalf("Ensure after drift: %d %v (was %d)", idx, err, l.Attrs().Index)
	}
	l, _ = h1.h.LinkByName(labVX)
	br, _ := h1.h.LinkByName(labBr)
	pi, _ := h1.h.LinkGetProtinfo(l)
	if l.Attrs().MTU != 1450 || l.Attrs().MasterIndex != br.Attrs().Index || l.Attrs().Flags&1 == 0 || pi.Learning {
		t.Fatalf("not repaired: mtu %d master %d up %v learning %v", l.Attrs().MTU, l.Attrs().MasterIndex, l.Attrs().Flags&1, pi.Learning)
	}
	// Moving to another bridge took the bridge's entries with it: the
	// remotes show as incomplete until added again.
	rs, err := Remotes(h1.h, labVX)
	if err != nil || len(rs) != 1 || rs[0].VTEP.IsValid() {
		t.Fatalf("Remotes after re-enslaving: %v %v, want one without its bridge entry", rs, err)
	}
	if err := AddRemote(h1.h, labVX, h2.remote()); err != nil {
		t.Fatal(err)
	}
	reaches(t, h1, h2.ip)
	// A device of other fixed settings (here the port) is replaced.
	c := h1.config()
	c.Port = 4790
	if _, err := Ensure(h1.h, c); err != nil {
		t.Fatal(err)
	}
	if l, _ := h1.h.LinkByName(labVX); l.(*netlink.Vxlan).Port != 4790 {
		t.Fatal("vxlan of another port not replaced")
	}
}

func TestPrivilegedNeverTakesOver(t *testing.T) {
	x := newLab(t, 1)[0]
	testutil.Run(t, "ip", "-n", x.ns, "link", "add", "vx-dummy", "type", "bridge")
	testutil.Run(t, "ip", "-n", x.ns, "link", "add", "vx-other", "type", "vxlan", "id", "7", "dstport", "4789")
	for _, name := range []string{"vx-dummy", "vx-other"} {
		c := x.config()
		c.Name = name
		if _, err := Ensure(x.h, c); !errors.Is(err, ErrNotOurs) {
			t.Fatalf("Ensure over %s: %v, want ErrNotOurs", name, err)
		}
		if _, err := x.h.LinkByName(name); err != nil {
			t.Fatalf("%s gone: %v", name, err)
		}
	}
	if err := Delete(x.h, "vx-dummy"); !errors.Is(err, ErrNotVXLAN) {
		t.Fatalf("Delete of a dummy: %v", err)
	}
	// Another device already has the VNI: a clear error naming it.
	c := x.config()
	c.Name = "vx-dup"
	c.VNI = 7
	if _, err := Ensure(x.h, c); err == nil {
		t.Fatal("a second device of vni 7 was made")
	}
}

func TestPrivilegedRemotesAndDelete(t *testing.T) {
	hosts := newLab(t, 3)
	program(t, hosts)
	h1, h2, h3 := hosts[0], hosts[1], hosts[2]
	want := []Remote{h2.remote(), h3.remote()}
	if got, err := Remotes(h1.h, labVX); err != nil || !sameRemotes(got, want) {
		t.Fatalf("Remotes = %v, %v; want %v", got, err, want)
	}
	program(t, hosts) // idempotent
	if got, _ := Remotes(h1.h, labVX); !sameRemotes(got, want) {
		t.Fatalf("after adding twice: %v", got)
	}
	// h3's container moves to h2's host: the stale delete of its old
	// location leaves the new entries alone.
	moved := h3.remote()
	moved.VTEP = h2.underlay
	if err := AddRemote(h1.h, labVX, moved); err != nil {
		t.Fatal(err)
	}
	if err := DelRemote(h1.h, labVX, h3.remote()); err != nil {
		t.Fatal(err)
	}
	if got, _ := Remotes(h1.h, labVX); !sameRemotes(got, []Remote{h2.remote(), moved}) {
		t.Fatalf("after a move and a stale delete: %v", got)
	}
	for range 2 {
		for _, r := range []Remote{h2.remote(), moved} {
			if err := DelRemote(h1.h, labVX, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, _ := Remotes(h1.h, labVX); len(got) != 0 {
		t.Fatalf("after deleting all: %v", got)
	}
	program(t, hosts)
	for range 2 {
		if err := Delete(h1.h, labVX); err != nil {
			t.Fatal(err)
		}
	}
	if err := DelRemote(h1.h, labVX, h2.remote()); err != nil {
		t.Fatalf("DelRemote on a deleted device: %v", err)
	}
	assertNothingLeft(t, h1, []Remote{h2.remote(), h3.remote()})
}

// assertNothingLeft checks that no entry of rs remains anywhere on x.
func assertNothingLeft(t *testing.T, x *labHost, rs []Remote) {
	t.Helper()
	if _, err := x.h.LinkByName(labVX); err == nil {
		t.Fatal("vxlan device still there")
	}
	fdb, _ := x.h.NeighList(0, unix.AF_BRIDGE)
	neigh, _ := x.h.NeighList(0, unix.AF_INET)
	for _, r := range rs {
		for _, n := range append(fdb, neigh...) {
			if n.HardwareAddr.String() == r.MAC.String() && n.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 {
				t.Errorf("left behind: %+v", n)
			}
		}
	}
}

func sameRemotes(got, want []Remote) bool {
	key := func(r Remote) string { return r.String() }
	g, w := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		g[i] = key(got[i])
	}
	for i := range want {
		w[i] = key(want[i])
	}
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}
