package veth

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/netlinkerr"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedCheckHost plugs a pair into a bridge of a "host" namespace
// and breaks its host end one way at a time.
func TestPrivilegedCheckHost(t *testing.T) {
	hostName, targetName, host, _ := hostAndTarget(t)
	testutil.Run(t, "ip", "-n", hostName, "link", "add", "br0", "type", "bridge")
	testutil.Run(t, "ip", "-n", hostName, "link", "set", "br0", "up")
	target, err := OpenNS("/var/run/netns/" + targetName)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()

	err = host.Do(func(ns.NetNS) error {
		br, err := netlink.LinkByName("br0")
		if err != nil {
			return err
		}
		idx := br.Attrs().Index
		if err := Create(Pair{HostName: "vethchk0", PeerName: "eth0", MasterIndex: idx, NetNS: target.Handle()}); err != nil {
			return err
		}
		if err := CheckHost("vethchk0", idx); err != nil {
			return fmt.Errorf("check of a whole host end: %v", err)
		}
		for _, c := range []struct {
			name string
			idx  int
			want string
		}{
			{"vethchk0", idx + 100, "is not on the bridge"},
			{"br0", idx, "not a veth"},
		} {
			if err := CheckHost(c.name, c.idx); err == nil || !strings.Contains(err.Error(), c.want) {
				return fmt.Errorf("check of %s on %d: %v, want %q", c.name, c.idx, err, c.want)
			}
		}
		if err := CheckHost("vethnone", idx); !netlinkerr.IsNotFound(err) {
			return fmt.Errorf("check of a missing host end: %v", err)
		}
		l, err := netlink.LinkByName("vethchk0")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetDown(l); err != nil {
			return err
		}
		if err := CheckHost("vethchk0", idx); err == nil || !strings.Contains(err.Error(), "is down") {
			return fmt.Errorf("check of a down host end: %v", err)
		}
		return Delete("vethchk0")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrivilegedCheckPeer configures a peer through an NS, adds IPv6 to
// it by hand, and wants CheckPeer to accept it whole and name each thing
// that differs.
func TestPrivilegedCheckPeer(t *testing.T) {
	hostName, targetName, host, _ := hostAndTarget(t)
	testutil.Run(t, "ip", "-n", hostName, "link", "add", "br0", "type", "bridge")
	testutil.Run(t, "ip", "-n", hostName, "link", "set", "br0", "up")
	target, err := OpenNS("/var/run/netns/" + targetName)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	mac := MACFromIP(netip.MustParseAddr("10.78.1.2"))
	err = host.Do(func(ns.NetNS) error {
		br, err := netlink.LinkByName("br0")
		if err != nil {
			return err
		}
		return Create(Pair{HostName: "vethchk1", PeerName: "eth0", PeerMAC: mac, MasterIndex: br.Attrs().Index, NetNS: target.Handle()})
	})
	if err != nil {
		t.Fatal(err)
	}
	in, err := target.Inspect()
	if err != nil || !in.Names["eth0"] || in.DefaultRoute {
		t.Fatalf("Inspect before Configure: %+v %v", in, err)
	}
	if err := target.Configure(Peer{Name: "eth0", Addr: netip.MustParsePrefix("10.78.1.2/24"), Gateway: netip.MustParseAddr("10.78.1.1")}); err != nil {
		t.Fatal(err)
	}
	if in, _ := target.Inspect(); !in.DefaultRoute {
		t.Fatal("no default route after Configure")
	}
	testutil.Run(t, "ip", "-n", targetName, "addr", "add", "fd00:78::2/64", "dev", "eth0", "nodad")
	testutil.Run(t, "ip", "-n", targetName, "-6", "route", "add", "default", "via", "fd00:78::1", "dev", "eth0")

	whole := PeerCheck{
		Name:  "eth0",
		MAC:   mac,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.78.1.2/24"), netip.MustParsePrefix("fd00:78::2/64")},
		Routes: []Route{
			{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.78.1.1")},
			{Dst: netip.MustParsePrefix("10.78.1.0/24")},
			{Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fd00:78::1")},
			{Dst: netip.MustParsePrefix("fd00:78::/64")},
		},
	}
	if err := CheckPeer(target, whole); err != nil {
		t.Fatalf("check of a whole peer: %v", err)
	}
	for _, c := range []struct {
		what   string
		change func(*PeerCheck)
		want   string
	}{
		{"missing interface", func(p *PeerCheck) { p.Name = "eth9" }, `interface "eth9" is missing`},
		{"other MAC", func(p *PeerCheck) { p.MAC = MACFromIP(netip.MustParseAddr("10.78.1.3")) }, "has MAC 02:42:0a:4e:01:02, want 02:42:0a:4e:01:03"},
		{"other IPv4 length", func(p *PeerCheck) { p.Addrs = []netip.Prefix{netip.MustParsePrefix("10.78.1.2/16")} }, "lacks address 10.78.1.2/16"},
		{"missing IPv6", func(p *PeerCheck) { p.Addrs = []netip.Prefix{netip.MustParsePrefix("fd00:78::3/64")} }, "lacks address fd00:78::3/64"},
		{"other IPv4 gateway", func(p *PeerCheck) {
			p.Routes = []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.78.1.9")}}
		}, "lacks the route to 0.0.0.0/0 via 10.78.1.9"},
		{"other IPv6 gateway", func(p *PeerCheck) {
			p.Routes = []Route{{Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fd00:78::9")}}
		}, "lacks the route to ::/0 via fd00:78::9"},
		{"missing route", func(p *PeerCheck) { p.Routes = []Route{{Dst: netip.MustParsePrefix("10.99.0.0/16")}} }, "lacks the route to 10.99.0.0/16"},
	} {
		p := whole
		c.change(&p)
		if err := CheckPeer(target, p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.what, err, c.want)
		}
	}
	testutil.Run(t, "ip", "-n", targetName, "link", "set", "eth0", "down")
	if err := CheckPeer(target, PeerCheck{Name: "eth0"}); err == nil || !strings.Contains(err.Error(), "is down") {
		t.Errorf("check of a down peer: %v", err)
	}
	err = host.Do(func(ns.NetNS) error { return Delete("vethchk1") })
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPeer(target, PeerCheck{Name: "eth0"}); !netlinkerr.IsNotFound(err) {
		t.Errorf("check of a deleted peer: %v", err)
	}
}
