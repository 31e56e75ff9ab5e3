package network

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// TestAllocateInBlocks: an overlay network hands out addresses only inside
// the blocks this host owns, the first block with room first, and fails in
// one line naming the blocks when they are full.
func TestAllocateInBlocks(t *testing.T) {
	m := &Manager{StateDir: t.TempDir()}
	n := &Network{Name: "ov", Driver: DriverOverlay, Subnet: netip.MustParsePrefix("10.20.0.0/24"),
		Gateway: netip.MustParseAddr("10.20.0.1"),
		Blocks:  []netip.Prefix{netip.MustParsePrefix("10.20.0.0/30"), netip.MustParsePrefix("10.20.0.128/30")}}
	if err := os.MkdirAll(m.netDir(n.Name), 0o755); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 6 {
		ip, err := m.allocate4(n, strings.Repeat("a", 63)+string(rune('0'+i)), netip.Addr{})
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, ip.String())
	}
	// 10.20.0.0 is the subnet's address, .1 the gateway, .3 still a host
	// address of the /24; .128-.131 the second block.
	want := "10.20.0.2 10.20.0.3 10.20.0.128 10.20.0.129 10.20.0.130 10.20.0.131"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	_, err := m.allocate4(n, strings.Repeat("b", 64), netip.Addr{})
	if err == nil || !strings.Contains(err.Error(), "10.20.0.128/30") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("full blocks: %v", err)
	}
	_, err = m.allocate4(n, strings.Repeat("c", 64), netip.MustParseAddr("10.20.0.200"))
	if err == nil || !strings.Contains(err.Error(), "10.20.0.200") {
		t.Fatalf("static outside the blocks: %v", err)
	}
	n.Blocks = nil
	if _, err := m.allocate4(n, strings.Repeat("d", 64), netip.Addr{}); err == nil {
		t.Fatal("no blocks: allocated")
	}
}

// TestCheckOverlay: bad overlay configs are refused in one line naming the
// bad value.
func TestCheckOverlay(t *testing.T) {
	id := strings.Repeat("e", 64)
	local := netip.MustParseAddr("192.168.50.1")
	good := func() *Network {
		return &Network{Name: "ov", ID: id, VNI: 4096, Subnet: netip.MustParsePrefix("10.20.0.0/24")}
	}
	if err := checkOverlay(good(), local); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit func(*Network)
		want string
	}{
		"vni":   {func(n *Network) { n.VNI = 0 }, "vni 0"},
		"block": {func(n *Network) { n.Blocks = []netip.Prefix{netip.MustParsePrefix("10.30.0.0/26")} }, "10.30.0.0/26"},
		"id":    {func(n *Network) { n.ID = "x" }, `"x"`},
	} {
		n := good()
		tc.edit(n)
		err := checkOverlay(n, local)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
