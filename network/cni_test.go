package network

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCNIEndpointID(t *testing.T) {
	a := CNIEndpointID("ctr", "eth0")
	if a != CNIEndpointID("ctr", "eth0") || !strings.HasPrefix(a, "cni-") || len(a) != 44 {
		t.Fatalf("CNIEndpointID = %q", a)
	}
	for _, other := range [][2]string{{"ctr", "eth1"}, {"ctr2", "eth0"}, {"ct", "reth0"}} {
		if CNIEndpointID(other[0], other[1]) == a {
			t.Errorf("%v shares the id of (ctr, eth0)", other)
		}
	}
	n := &Network{ID: strings.Repeat("a", 64)}
	if v := hostVethName(n, a); !plumbVethName(v) {
		t.Fatalf("host veth %q does not look like plumb's", v)
	}
}

func TestPlumbVethName(t *testing.T) {
	for _, ok := range []string{"veth0123456789a", "vethabcdefabcde"} {
		if !plumbVethName(ok) {
			t.Errorf("plumbVethName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"veth0123456789", "veth0123456789ab", "vethXYZ3456789a", "eth0", "pb-0123456789ab", "veth0123456789A"} {
		if plumbVethName(bad) {
			t.Errorf("plumbVethName(%q) = true", bad)
		}
	}
}

func TestCNINetworkConflicts(t *testing.T) {
	yes, no := true, false
	n := &Network{
		Name: "n", Bridge: "pb-n", Subnet: netip.MustParsePrefix("10.1.0.0/24"),
		Gateway: netip.MustParseAddr("10.1.0.1"), MTU: 1500, ICC: true, Masquerade: true,
	}
	if err := (CNINetwork{Name: "n"}).conflicts(n); err != nil {
		t.Fatalf("a config giving nothing conflicts: %v", err)
	}
	same := CNINetwork{Name: "n", Subnet: n.Subnet, Gateway: n.Gateway, Bridge: n.Bridge, MTU: 1500, ICC: &yes, Masquerade: &yes, Internal: &no}
	if err := same.conflicts(n); err != nil {
		t.Fatalf("a config repeating the network conflicts: %v", err)
	}
	for field, c := range map[string]CNINetwork{
		"subnet":   {Subnet: netip.MustParsePrefix("10.2.0.0/24")},
		"gateway":  {Gateway: netip.MustParseAddr("10.1.0.254")},
		"ipRange":  {IPRange: netip.MustParsePrefix("10.1.0.128/25")},
		"bridge":   {Bridge: "br0"},
		"mtu":      {MTU: 9000},
		"internal": {Internal: &yes},
		"icc":      {ICC: &no},
		"ipMasq":   {Masquerade: &no},
	} {
		err := c.conflicts(n)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s differs: %v, want ErrInvalid naming it", field, err)
		}
	}
}

func TestCNICreateOptionsDefaults(t *testing.T) {
	o := (CNINetwork{Name: "n"}).createOptions()
	if !o.ICC || !o.Masquerade || o.Internal {
		t.Fatalf("defaults = %+v, want icc and masquerade on, as the CLI", o)
	}
	no := false
	o = (CNINetwork{Name: "n", ICC: &no, Masquerade: &no}).createOptions()
	if o.ICC || o.Masquerade {
		t.Fatalf("icc/ipMasq false not kept: %+v", o)
	}
}

func TestFreeAddresses(t *testing.T) {
	m := NewManager(t.TempDir())
	n := &Network{Name: "n", Subnet: netip.MustParsePrefix("10.1.0.0/29"), Gateway: netip.MustParseAddr("10.1.0.1")}
	free, used, err := m.freeAddresses(n)
	if err != nil || free != 5 || used != 0 {
		t.Fatalf("empty /29: free %d used %d (%v), want 5 and 0", free, used, err)
	}
	for _, ip := range []string{"10.1.0.2", "10.1.0.3", "10.1.0.9"} {
		writeRaw(t, filepath.Join(m.netDir("n"), "ips", ip), "owner")
	}
	free, used, _ = m.freeAddresses(n)
	if free != 3 || used != 3 {
		t.Fatalf("two in range, one outside: free %d used %d, want 3 and 3", free, used)
	}
}

func TestWritableDir(t *testing.T) {
	dir := t.TempDir()
	if err := writableDir(filepath.Join(dir, "not", "yet")); err != nil {
		t.Fatalf("a missing dir under a writable one: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if err := writableDir(filepath.Join(f, "sub")); err == nil {
		t.Fatal("a path under a file is writable")
	}
}

func TestWithoutCNIEnv(t *testing.T) {
	got := withoutCNIEnv([]string{"PATH=/bin", "CNI_COMMAND=ADD", "CNI_NETNS=/x", "PLUMB_STATE_DIR=/s", "XCNI_A=1"})
	if strings.Join(got, " ") != "PATH=/bin PLUMB_STATE_DIR=/s XCNI_A=1" {
		t.Fatalf("withoutCNIEnv = %q", got)
	}
}
