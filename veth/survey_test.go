package veth

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedSurvey: from the host namespace alone, the survey finds a
// pair's host end, the id of its peer's namespace (the same one NSID gives
// for the namespace's path), and the peer with its address and state.
func TestPrivilegedSurvey(t *testing.T) {
	hostName, targetName, host, target := hostAndTarget(t)
	testutil.Run(t, "ip", "-n", hostName, "link", "add", "br0", "type", "bridge")
	other := testutil.NewNetNS(t)
	err := host.Do(func(ns.NetNS) error {
		if err := Create(Pair{HostName: "vethsv0", PeerName: "eth0", NetNS: target}); err != nil {
			return err
		}
		testutil.Run(t, "ip", "-n", targetName, "addr", "add", "10.79.0.2/24", "dev", "eth0")
		testutil.Run(t, "ip", "-n", targetName, "addr", "add", "fd79::2/64", "dev", "eth0", "nodad")
		testutil.Run(t, "ip", "-n", targetName, "link", "set", "eth0", "up")
		links, err := HostLinks()
		if err != nil {
			return err
		}
		end, ok := links["vethsv0"]
		if !ok || !end.Veth || !end.Up || end.PeerNSID < 0 || end.PeerIndex == 0 {
			return fmt.Errorf("host end: %+v (found %v)", end, ok)
		}
		if _, ok := links["br0"]; !ok {
			return fmt.Errorf("the bridge is not in the host's links: %v", links)
		}
		id, err := NSID("/var/run/netns/" + targetName)
		if err != nil || id != end.PeerNSID {
			return fmt.Errorf("NSID of the target = %d, %v; the veth says %d", id, err, end.PeerNSID)
		}
		if id, err := NSID("/var/run/netns/" + other); err != nil || id == end.PeerNSID {
			return fmt.Errorf("NSID of an unrelated namespace = %d, %v", id, err)
		}
		if _, err := NSID("/var/run/netns/none-such"); err == nil {
			return fmt.Errorf("NSID of a missing path: no error")
		}
		peers, err := Peers(end.PeerNSID)
		if err != nil {
			return err
		}
		p := peers[end.PeerIndex]
		want := []netip.Prefix{netip.MustParsePrefix("10.79.0.2/24"), netip.MustParsePrefix("fd79::2/64")}
		if p == nil || p.Name != "eth0" || !p.Up {
			return fmt.Errorf("peer: %+v in %v", p, peers)
		}
		for _, w := range want {
			if !slices.Contains(p.Addrs, w) {
				return fmt.Errorf("peer addresses %v, want %v among them", p.Addrs, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
