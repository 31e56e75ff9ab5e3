package bridge

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/testutil"
)

// inNS runs f inside a fresh namespace made for the test. f runs on
// another goroutine (ns.Do locks a thread of its own), where t.Fatal would
// not stop the test: f returns its failure, which fails t here.
func inNS(t *testing.T, f func() error) {
	t.Helper()
	name := testutil.NewNetNS(t)
	n, err := ns.GetNS("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Do(func(ns.NetNS) error { return f() }); err != nil {
		t.Fatal(err)
	}
}

func TestPrivilegedEnsureIsIdempotentAndRepairs(t *testing.T) {
	inNS(t, func() error {
		c := Config{Name: "pbtest0", Gateway: netip.MustParsePrefix("10.77.0.1/24"), MTU: 1400}
		i1, err := Ensure(c)
		if err != nil {
			return err
		}
		i2, err := Ensure(c)
		if err != nil || i1 != i2 {
			return fmt.Errorf("second ensure: %d %v (first %d)", i2, err, i1)
		}
		link, _ := netlink.LinkByName("pbtest0")
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != "10.77.0.1/24" || link.Attrs().MTU != 1400 {
			return fmt.Errorf("bridge: addrs %v mtu %d", addrs, link.Attrs().MTU)
		}
		// Someone removed the address and downed the bridge: Ensure puts them back.
		netlink.AddrDel(link, &addrs[0])
		netlink.LinkSetDown(link)
		if _, err := Ensure(c); err != nil {
			return err
		}
		link, _ = netlink.LinkByName("pbtest0")
		addrs, _ = netlink.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 1 || link.Attrs().Flags&1 == 0 {
			return fmt.Errorf("not repaired: addrs %v flags %v", addrs, link.Attrs().Flags)
		}
		if err := Delete("pbtest0"); err != nil {
			return err
		}
		if err := Delete("pbtest0"); err != nil {
			return fmt.Errorf("second delete: %v", err)
		}
		return nil
	})
}

func TestPrivilegedNeverTakesOverAnotherInterface(t *testing.T) {
	inNS(t, func() error {
		la := netlink.NewLinkAttrs()
		la.Name = "notabridge"
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "notabridge1"}); err != nil {
			return err
		}
		if _, err := Ensure(Config{Name: "notabridge"}); !errors.Is(err, ErrNotBridge) {
			return fmt.Errorf("ensure on a veth: %v", err)
		}
		if err := Delete("notabridge"); !errors.Is(err, ErrNotBridge) {
			return fmt.Errorf("delete on a veth: %v", err)
		}
		if _, err := netlink.LinkByName("notabridge"); err != nil {
			return errors.New("the veth was deleted")
		}
		return nil
	})
}
