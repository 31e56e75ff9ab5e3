package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// bootEndpoint is a live endpoint of the reboot test and what it must get
// back: its record's address, MAC and interface as its namespace showed
// them, and the host port of its published port 80 ("" for none).
type bootEndpoint struct {
	ns, net, gw, port string
	ifname            string
	id                identity
}

// reboot is what a reboot leaves of plumb's kernel side in h: nothing.
// The daemon is SIGKILLed; every plumb bridge and host veth is deleted
// (with them the targets' interfaces); filter and nat are flushed and the
// localnet guard's table deleted. The state directory stays.
func reboot(t *testing.T, h *host) {
	t.Helper()
	h.killDaemon()
	plumbLink := regexp.MustCompile(`^(pb-[0-9a-f]{12}|veth[0-9a-f]{11})$`)
	for _, l := range strings.Split(shOut(t, h, "ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			if name := strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"); plumbLink.MatchString(name) {
				h.sh("ip", "link", "del", name) // a veth may have gone with its bridge's peer: no check
			}
		}
	}
	for _, args := range [][]string{{"-F"}, {"-X"}, {"-t", "nat", "-F"}, {"-t", "nat", "-X"}} {
		mustSh(t, h, "iptables", args...)
	}
	mustSh(t, h, "nft", "delete", "table", "inet", "plumb")
	if out := shOut(t, h, "ip", "-o", "link", "show"); strings.Contains(out, "pb-") || len(plumbRules(t, h)) > 0 {
		t.Fatalf("the reboot left plumb's links or rules:\n%s\n%s", out, strings.Join(plumbRules(t, h), "\n"))
	}
}

// canBind reports whether a host process in h can listen on TCP port.
func canBind(h *host, port string) bool {
	return inNS(h.ns, func() error {
		ln, err := net.Listen("tcp4", ":"+port)
		if err == nil {
			ln.Close()
		}
		return err
	}) == nil
}

// recordOf reads the record of endpoint id of netName as a map, nil when
// it is gone.
func recordOf(h *host, netName, id string) map[string]any {
	b, err := os.ReadFile(filepath.Join(h.state, "networks", netName, "endpoints", id+".json"))
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// TestPrivilegedReconcileBootRestore (issue 14, section 2 and tests: the
// reboot simulation): after a reboot (the daemon killed, plumb's links
// and rules gone, the state directory kept) a daemon started as init
// would, with no other command, brings back every network and every live
// endpoint with the same address, MAC and interface, its published port
// answering and its names resolving at 127.0.0.11. The endpoint whose
// namespace was deleted while the daemon was down is stale once it
// starts: its DNAT rule gone and its host port free, its record kept
// with staleSince; after the grace (PLUMB_STALE_GRACE=2s) it is detached,
// its record and its address file gone, and the address is free for a
// new attach.
func TestPrivilegedReconcileBootRestore(t *testing.T) {
	h := newHost(t)
	h.env = append(h.env, "PLUMB_STALE_GRACE=2s")
	h.must("network", "create", "ba", "--subnet", "10.233.30.0/24")
	h.must("network", "create", "bb", "--subnet", "10.233.31.0/24")
	a, a2, b, z := target(t), target(t), target(t), target(t)
	cleanNetnsFiles(t, z)
	serve(t, a, 80, "a")
	serve(t, b, 80, "b")
	h.must("attach", "netns:"+a, "--net", "ba", "-p", "8186:80", "--alias", "web")
	h.must("attach", "netns:"+a2, "--net", "ba")
	h.must("attach", "netns:"+b, "--net", "bb", "-p", "8187:80")
	h.must("attach", "netns:"+z, "--net", "ba", "-p", "8188:80")
	live := []*bootEndpoint{
		{ns: a, net: "ba", gw: "10.233.30.1", port: "8186"},
		{ns: a2, net: "ba", gw: "10.233.30.1"},
		{ns: b, net: "bb", gw: "10.233.31.1", port: "8187"},
	}
	for _, e := range live {
		ep := h.endpointOf("netns:"+e.ns, e.net)
		e.ifname, e.id = ep.IfName, identityIn(e.ns, ep.IfName)
		if e.id.addr != ep.IP.String() || e.id.mac != ep.MAC {
			t.Fatalf("%s before the reboot: %+v, record %s %s", e.ns, e.id, ep.IP, ep.MAC)
		}
	}
	ipA := strings.Split(live[0].id.addr, "/")[0]
	ez := h.endpointOf("netns:"+z, "ba")
	if !strings.Contains(shOut(t, h, "iptables-save"), "plumb:ba/"+ez.ID) || canBind(h, "8188") {
		t.Fatal("before the reboot, z's port 8188 is not published and held")
	}

	reboot(t, h)
	testutil.Run(t, "ip", "netns", "del", z) // its container is gone for good
	h.startDaemon()

	back := func() bool {
		for _, e := range live {
			if identityIn(e.ns, e.ifname) != e.id || !ping(e.ns, e.gw) {
				return false
			}
			if e.port != "" && tcpFrom(h.ns, "127.0.0.1:"+e.port) != "hello from "+map[string]string{a: "a", b: "b"}[e.ns] {
				return false
			}
		}
		return dig(a2, "127.0.0.11", "web") == ipA && dig(a2, "127.0.0.11", a) == ipA
	}
	waitRepaired(t, "every network and live endpoint back", back, h.wholeDetail)
	for _, e := range live {
		if ep := h.endpointOf("netns:"+e.ns, e.net); ep.State != "up" {
			t.Errorf("%s on %s: ps says %s (%s)", e.ns, e.net, ep.State, ep.Reason)
		}
	}

	// z: stale, its port let go, its record and address kept.
	var rec map[string]any
	waitRepaired(t, "z marked stale", func() bool {
		rec = recordOf(h, "ba", ez.ID)
		return rec != nil && rec["staleSince"] != nil
	}, h.daemonLog)
	if rules := shOut(t, h, "iptables-save"); strings.Contains(rules, "plumb:ba/"+ez.ID) {
		t.Errorf("z is stale and its DNAT rules are still there:\n%s", rules)
	}
	if !canBind(h, "8188") {
		t.Error("z is stale and its host port 8188 is still held")
	}
	s := readState(t, h.state)
	if rec["ip"] != ez.IP.String() || s.addrs["ba"][ez.IP.Addr().String()] != ez.ID {
		t.Errorf("z is stale: record %v, address file of %s says %q", rec, ez.IP.Addr(), s.addrs["ba"][ez.IP.Addr().String()])
	}
	if ok, out := h.doctorClean(); !ok {
		t.Errorf("doctor with z stale:\n%s", out)
	}

	// After the grace: detached, its address free.
	waitRepaired(t, "z detached after its grace", func() bool {
		s := readState(t, h.state)
		return s.rec("ba", ez.ID) == nil && s.addrs["ba"][ez.IP.Addr().String()] == ""
	}, h.daemonLog)
	if len(h.logLines("netns:"+z, "stale for", "detached")) != 1 {
		t.Errorf("no one line of z's detachment in the daemon's log:\n%s", h.daemonLog())
	}
	w := target(t)
	if out, err := h.run("attach", "netns:"+w, "--net", "ba", "--ip", ez.IP.Addr().String()); err != nil {
		t.Fatalf("attaching a new target with z's freed address %s: %v\n%s", ez.IP.Addr(), err, out)
	}
	if ep := h.endpointOf("netns:"+w, "ba"); ep.IP != ez.IP || ep.State != "up" {
		t.Errorf("the new target: %s %s", ep.IP, ep.State)
	}
	if !h.whole() {
		t.Errorf("not whole at the end:\n%s", h.wholeDetail())
	}
}
