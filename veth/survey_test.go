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
		sv, err := NewSurvey()
		if err != nil {
			return err
		}
		defer sv.Close()
		id, err := sv.NSID("/var/run/netns/" + targetName)
		if err != nil || id != end.PeerNSID {
			return fmt.Errorf("NSID of the target = %d, %v; the veth says %d", id, err, end.PeerNSID)
		}
		if id, err := sv.NSID("/var/run/netns/" + other); err != nil || id == end.PeerNSID {
			return fmt.Errorf("NSID of an unrelated namespace = %d, %v", id, err)
		}
		if _, err := sv.NSID("/var/run/netns/none-such"); err == nil {
			return fmt.Errorf("NSID of a missing path: no error")
		}
		if !end.Carrier {
			return fmt.Errorf("host end has no carrier with its peer up: %+v", end)
		}
		addrs, err := sv.PeerAddrs(end.PeerNSID, end.PeerIndex)
		if err != nil {
			return err
		}
		if none, err := sv.PeerAddrs(end.PeerNSID, end.PeerIndex+100); len(none) != 0 || err != nil {
			return fmt.Errorf("a link that is not there: %v, %v", none, err)
		}
		want := []netip.Prefix{netip.MustParsePrefix("10.79.0.2/24"), netip.MustParsePrefix("fd79::2/64")}
		for _, w := range want {
			if !slices.Contains(addrs, w) {
				return fmt.Errorf("peer addresses %v, want %v among them", addrs, w)
			}
		}
		// The peer goes down: the host end loses its carrier.
		testutil.Run(t, "ip", "-n", targetName, "link", "set", "eth0", "down")
		if links, err := HostLinks(); err != nil || links["vethsv0"].Carrier || !links["vethsv0"].Up {
			return fmt.Errorf("peer down, host end: %+v, %v", links["vethsv0"], err)
		}
		testutil.Run(t, "ip", "-n", targetName, "link", "set", "eth0", "up")
		testutil.Run(t, "ip", "-n", targetName, "route", "add", "default", "via", "10.79.0.1")
		if ok, err := sv.HasRoute("/var/run/netns/"+targetName, Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.79.0.1")}); !ok || err != nil {
			return fmt.Errorf("default route not found: %v", err)
		}
		if ok, err := sv.HasRoute("/var/run/netns/"+targetName, Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.79.0.9")}); ok || err != nil {
			return fmt.Errorf("a default route via another gateway found: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
