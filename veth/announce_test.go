package veth

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestGARP: the payload of a gratuitous request, byte for byte.
func TestGARP(t *testing.T) {
	got := garp(MACFromIP(netip.MustParseAddr("10.0.0.1")), netip.MustParseAddr("10.0.0.1"))
	want := []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0x42, 10, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1}
	if string(got) != string(want) {
		t.Fatalf("garp = % x\nwant   % x", got, want)
	}
}

// TestPrivilegedAnnounce: a neighbour still looking an address up (its
// entry INCOMPLETE, its next request ten seconds away) learns the MAC
// from Announce at once.
func TestPrivilegedAnnounce(t *testing.T) {
	a, b := testutil.NewNetNS(t), testutil.NewNetNS(t)
	testutil.Run(t, "ip", "-n", a, "link", "add", "ea", "type", "veth", "peer", "name", "eb", "netns", b)
	testutil.Run(t, "ip", "-n", a, "link", "set", "ea", "address", "02:42:0a:00:00:01", "up")
	testutil.Run(t, "ip", "-n", b, "addr", "add", "10.0.0.2/24", "dev", "eb")
	testutil.Run(t, "ip", "-n", b, "link", "set", "eb", "up")
	testutil.Run(t, "ip", "-n", b, "ntable", "change", "name", "arp_cache", "dev", "eb", "retrans", "10000")
	// b asks for 10.0.0.1 while a does not have it yet: INCOMPLETE.
	exec.Command("ip", "netns", "exec", b, "ping", "-c", "1", "-W", "0.1", "10.0.0.1").Run()
	neigh := func() string { return testutil.Run(t, "ip", "-n", b, "neigh", "show", "10.0.0.1", "dev", "eb") }
	if n := neigh(); !strings.Contains(n, "INCOMPLETE") {
		t.Fatalf("b's entry for 10.0.0.1 before: %q, want INCOMPLETE", n)
	}
	testutil.Run(t, "ip", "-n", a, "addr", "add", "10.0.0.1/24", "dev", "ea")
	if err := Announce("/var/run/netns/"+a, "ea", netip.MustParseAddr("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	var n string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n = neigh(); strings.Contains(n, "02:42:0a:00:00:01") {
			return
		}
	}
	t.Fatalf("b's entry for 10.0.0.1 after Announce: %q, want a's MAC", n)
}
