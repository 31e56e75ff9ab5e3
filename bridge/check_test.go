package bridge

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/sysctl"
)

// TestPrivilegedCheck breaks an ensured bridge one way at a time and wants
// Check to name each, and nothing once Ensure has repaired it.
func TestPrivilegedCheck(t *testing.T) {
	inNS(t, func() error {
		c := Config{Name: "pbcheck0", Gateway: netip.MustParsePrefix("10.77.1.1/24"), MTU: 1400, RouteLocalnet: true}
		if err := Check(c); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("check of a missing bridge: %v", err)
		}
		if Exists(c.Name) {
			return errors.New("Exists of a missing bridge is true")
		}
		if _, err := Ensure(c); err != nil {
			return err
		}
		if err := Check(c); err != nil {
			return fmt.Errorf("check of an ensured bridge: %v", err)
		}
		if !Exists(c.Name) {
			return errors.New("Exists of an ensured bridge is false")
		}
		link, err := netlink.LinkByName(c.Name)
		if err != nil {
			return err
		}
		breaks := []struct {
			what    string
			want    string
			breakIt func() error
		}{
			{"down", "is down", func() error { return netlink.LinkSetDown(link) }},
			{"no gateway", "lacks its gateway address 10.77.1.1/24", func() error {
				return netlink.AddrDel(link, &netlink.Addr{IPNet: prefixNet(c.Gateway)})
			}},
			{"another mtu", "has mtu 1300, want 1400", func() error { return netlink.LinkSetMTU(link, 1300) }},
			{"route_localnet off", "route_localnet off", func() error {
				return sysctl.Set("net/ipv4/conf/"+c.Name+"/route_localnet", "0")
			}},
		}
		for _, b := range breaks {
			if err := b.breakIt(); err != nil {
				return fmt.Errorf("%s: %v", b.what, err)
			}
			if err := Check(c); err == nil || !strings.Contains(err.Error(), b.want) {
				return fmt.Errorf("%s: check says %v, want %q", b.what, err, b.want)
			}
			if _, err := Ensure(c); err != nil {
				return fmt.Errorf("%s: %v", b.what, err)
			}
			if err := Check(c); err != nil {
				return fmt.Errorf("%s: check after ensure: %v", b.what, err)
			}
		}
		// What is not asked for is not checked.
		if err := Check(Config{Name: c.Name}); err != nil {
			return fmt.Errorf("check of the name alone: %v", err)
		}
		return Delete(c.Name)
	})
}

// TestPrivilegedCheckNotABridge: another kind of interface of the name.
func TestPrivilegedCheckNotABridge(t *testing.T) {
	inNS(t, func() error {
		la := netlink.NewLinkAttrs()
		la.Name = "pbveth0"
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "pbveth1"}); err != nil {
			return err
		}
		if err := Check(Config{Name: "pbveth0"}); !errors.Is(err, ErrNotBridge) {
			return fmt.Errorf("check of a veth: %v", err)
		}
		if Exists("pbveth0") {
			return errors.New("Exists of a veth is true")
		}
		return nil
	})
}
