package overlay

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestDefaultUnderlay: the address found is one `ip -4 addr` shows on the
// link `ip -4 route show default` names. It only reads.
func TestDefaultUnderlay(t *testing.T) {
	out, err := exec.Command("ip", "-4", "route", "show", "default").Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) < 5 || f[3] != "dev" {
		t.Skipf("no plain IPv4 default route here: %q %v", out, err)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got, err := DefaultUnderlay(h)
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := exec.Command("ip", "-4", "-o", "addr", "show", "dev", f[4]).Output()
	if !got.Is4() || !strings.Contains(string(addrs), " "+got.String()+"/") || got == (netip.Addr{}) {
		t.Fatalf("DefaultUnderlay %s, not an address of %s:\n%s", got, f[4], addrs)
	}
}
