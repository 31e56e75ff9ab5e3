package veth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/plumbnet/plumb/internal/testutil"
)

func TestNextFreeName(t *testing.T) {
	if got := NextFreeName(map[string]bool{"lo": true}); got != "eth0" {
		t.Fatalf("got %s", got)
	}
	if got := NextFreeName(map[string]bool{"eth0": true, "eth1": true, "eth3": true}); got != "eth2" {
		t.Fatalf("got %s", got)
	}
}

func TestMACFromIP(t *testing.T) {
	if got := MACFromIP(netip.MustParseAddr("172.30.0.2")).String(); got != "02:42:ac:1e:00:02" {
		t.Fatalf("got %s", got)
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"eth0", "a", "123456789012345"} {
		if !ValidName(ok) {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", ".", "..", "1234567890123456", "a/b", "a:b", "a b"} {
		if ValidName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// hostAndTarget makes two throwaway namespaces, a "host" one and a target,
// and opens them; they are closed and removed at cleanup.
func hostAndTarget(t *testing.T) (hostName, targetName string, host ns.NetNS, target netns.NsHandle) {
	t.Helper()
	hostName, targetName = testutil.NewNetNS(t), testutil.NewNetNS(t)
	host, err := ns.GetNS("/var/run/netns/" + hostName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	target, err = netns.GetFromPath("/var/run/netns/" + targetName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	return hostName, targetName, host, target
}

// TestPrivilegedCreateConfigureDelete creates a pair from a "host"
// namespace into a target namespace, configures the peer, and deletes it.
func TestPrivilegedCreateConfigureDelete(t *testing.T) {
	hostName, targetName, host, target := hostAndTarget(t)
	testutil.Run(t, "ip", "-n", hostName, "link", "add", "br0", "type", "bridge")
	testutil.Run(t, "ip", "-n", hostName, "addr", "add", "10.78.0.1/24", "dev", "br0")
	testutil.Run(t, "ip", "-n", hostName, "link", "set", "br0", "up")

	err := host.Do(func(ns.NetNS) error {
		br, err := netlink.LinkByName("br0")
		if err != nil {
			return err
		}
		p := Pair{HostName: "vethtest0", PeerName: "eth0", PeerMAC: MACFromIP(netip.MustParseAddr("10.78.0.2")), MTU: 1400, MasterIndex: br.Attrs().Index, NetNS: target}
		if err := Create(p); err != nil {
			return err
		}
		if err := Create(p); err == nil {
			return errors.New("creating the same pair twice succeeded")
		}
		l, err := netlink.LinkByName("vethtest0")
		if err != nil || l.Attrs().MasterIndex != br.Attrs().Index || l.Attrs().MTU != 1400 {
			return fmt.Errorf("host end: %v %+v", err, l)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	h, err := netlink.NewHandleAt(target)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	in, err := Inspect(h)
	if err != nil || !in.Names["eth0"] || in.DefaultRoute {
		t.Fatalf("Inspect before configure: %+v %v", in, err)
	}
	if err := Configure(h, Peer{Name: "eth0", Addr: netip.MustParsePrefix("10.78.0.2/24"), Gateway: netip.MustParseAddr("10.78.0.1")}); err != nil {
		t.Fatal(err)
	}
	if in, _ := Inspect(h); !in.DefaultRoute {
		t.Fatal("no default route after Configure")
	}
	if out, err := testutil.InNS(targetName, "ping", "-c", "1", "-W", "1", "10.78.0.1"); err != nil {
		t.Fatalf("peer cannot reach the bridge: %v %s", err, out)
	}
	peer, _ := h.LinkByName("eth0")
	if peer.Attrs().HardwareAddr.String() != "02:42:0a:4e:00:02" || peer.Attrs().MTU != 1400 {
		t.Fatalf("peer mac %s mtu %d", peer.Attrs().HardwareAddr, peer.Attrs().MTU)
	}

	err = host.Do(func(ns.NetNS) error {
		if err := Delete("vethtest0"); err != nil {
			return err
		}
		return Delete("vethtest0")
	})
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if in, _ := Inspect(h); in.Names["eth0"] {
		t.Fatal("peer left in the target after Delete")
	}
}

// TestPrivilegedRetire retires a pair, makes it again under the same
// names at once, and deletes only the retired one.
func TestPrivilegedRetire(t *testing.T) {
	_, _, host, target := hostAndTarget(t)
	h, err := netlink.NewHandleAt(target)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	err = host.Do(func(ns.NetNS) error {
		p := Pair{HostName: "vethtest1", PeerName: "eth0", NetNS: target}
		if err := Create(p); err != nil {
			return err
		}
		old, err := Retire("vethtest1", &NS{path: "target", ns: target, h: h}, "eth0")
		if err != nil || old == nil {
			return fmt.Errorf("retiring the pair: %v %v", old, err)
		}
		// Both names are free at once: the same pair can be made again.
		if in, _ := Inspect(h); in.Names["eth0"] {
			return fmt.Errorf("eth0 still taken in the target after Retire: %v", in.Names)
		}
		l, err := netlink.LinkByIndex(old.Index)
		if err != nil || l.Attrs().Name != old.Name || l.Attrs().Flags&net.FlagUp != 0 || !IsRetired(l) {
			return fmt.Errorf("retired host end: %v %+v", err, l)
		}
		if rs, err := ListRetired(); err != nil || len(rs) != 1 || rs[0] != *old {
			return fmt.Errorf("listing the retired pairs: %v %v, want %v", rs, err, *old)
		}
		if err := Create(p); err != nil {
			return fmt.Errorf("creating the pair again after Retire: %v", err)
		}
		// Retiring what is gone is success; retiring with no namespace
		// renames the host end only.
		if r, err := Retire("vethnone", nil, ""); r != nil || err != nil {
			return fmt.Errorf("retiring a missing pair: %v %v", r, err)
		}
		if err := DeleteRetired(old); err != nil {
			return err
		}
		if err := DeleteRetired(old); err != nil {
			return fmt.Errorf("deleting the retired pair twice: %v", err)
		}
		if _, err := netlink.LinkByIndex(old.Index); err == nil {
			return errors.New("retired pair still there after DeleteRetired")
		}
		if rs, err := ListRetired(); err != nil || len(rs) != 0 {
			return fmt.Errorf("retired pairs after DeleteRetired: %v %v", rs, err)
		}
		// A retired record whose index now has another name deletes nothing.
		cur, err := netlink.LinkByName("vethtest1")
		if err != nil {
			return err
		}
		if err := DeleteRetired(&Retired{Name: old.Name, Index: cur.Attrs().Index}); err != nil {
			return err
		}
		if _, err := netlink.LinkByName("vethtest1"); err != nil {
			return errors.New("DeleteRetired deleted a link with another name")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := Inspect(h); !in.Names["eth0"] || len(in.Names) != 2 {
		t.Fatalf("target after the new pair: %v", in.Names)
	}
}
