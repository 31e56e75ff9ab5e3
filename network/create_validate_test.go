package network

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestValidateCreateSubnet: a subnet a bridge cannot serve is refused,
// naming the subnet (issue 13, defect 8): loopback (the bridge would take
// 127.0.0.1/8), "this network" 0.0.0.0/8, link-local, multicast, the
// reserved 240.0.0.0/4 with the limited broadcast, anything inside or
// overlapping them, and a subnet with no room for a gateway and one
// endpoint.
func TestValidateCreateSubnet(t *testing.T) {
	for _, c := range []struct{ subnet, want string }{
		{"127.0.0.0/8", "127.0.0.0/8"},
		{"127.1.2.0/24", "127.0.0.0/8"},
		{"0.0.0.0/8", "0.0.0.0/8"},
		{"0.1.0.0/16", "0.0.0.0/8"},
		{"0.0.0.0/0", "0.0.0.0/8"},
		{"169.254.0.0/16", "169.254.0.0/16"},
		{"169.254.7.0/24", "169.254.0.0/16"},
		{"224.0.0.0/4", "224.0.0.0/4"},
		{"239.1.1.0/24", "224.0.0.0/4"},
		{"240.0.0.0/4", "240.0.0.0/4"},
		{"255.255.255.0/24", "240.0.0.0/4"},
		{"192.0.0.0/2", "224.0.0.0/4"}, // 192-255: overlaps multicast
		{"160.0.0.0/4", "169.254.0.0/16"},
		{"10.1.2.4/31", "too small"},
		{"10.1.2.4/32", "too small"},
	} {
		p := netip.MustParsePrefix(c.subnet)
		err := validateCreate(CreateOptions{Name: "n", Subnet: p})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.subnet) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("subnet %s: %v; want ErrInvalid naming %s and %q", c.subnet, err, c.subnet, c.want)
		}
	}
	for _, ok := range []string{"10.1.2.0/30", "172.30.0.0/24", "192.168.0.0/16", "100.64.0.0/10",
		"126.255.255.0/24", "128.0.0.0/8", "169.253.0.0/16", "169.255.0.0/16", "223.255.255.0/24", "1.0.0.0/8"} {
		if err := validateCreate(CreateOptions{Name: "n", Subnet: netip.MustParsePrefix(ok)}); err != nil {
			t.Errorf("subnet %s: %v, want accepted", ok, err)
		}
	}
}

// TestValidateCreateBridge: a bridge name is a plausible interface name
// that cannot be mistaken for an address: 1-15 of [A-Za-z0-9_.-] starting
// with a letter or digit, and not something inet_aton(3) reads as an IPv4
// address (dotted parts of decimal, octal or 0x-hex digits).
func TestValidateCreateBridge(t *testing.T) {
	for _, bad := range []string{
		"127.0.0.1", "10.0.0.1", "127.1", "1234", "0", "0x7f000001", "0x7f.1", "0X7F.0.0.1", "0x", "017.0.0.1", "1.2.3.4.",
		"-br", ".br", "_br", "br+", "a b", "a/b", "a:b", "br\x00", "ü", "way-too-long-bridge", ".", "..",
	} {
		err := validateCreate(CreateOptions{Name: "n", Bridge: bad})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "bridge name") {
			t.Errorf("bridge %q: %v, want ErrInvalid about the bridge name", bad, err)
		}
	}
	for _, ok := range []string{"br0", "pb-0123456789ab", "br.1", "docker_gwbridg", "0xbr", "1a", "1.2.3.x", "v1.2", "a"} {
		if err := validateCreate(CreateOptions{Name: "n", Bridge: ok}); err != nil {
			t.Errorf("bridge %q: %v, want accepted", ok, err)
		}
	}
}
