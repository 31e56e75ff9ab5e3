package veth

import (
	"crypto/sha256"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// NextFreeName returns eth0, or the lowest ethN not in names.
func NextFreeName(names map[string]bool) string {
	for i := 0; ; i++ {
		n := "eth" + strconv.Itoa(i)
		if !names[n] {
			return n
		}
	}
}

// MACFromIP returns Docker's deterministic MAC for an IPv4 address:
// 02:42 followed by the four address bytes (02:42:ac:1e:00:02 for
// 172.30.0.2). For an IPv6 address (an IPv6-only network) the four bytes
// are the first of the address's SHA-256: the same address gets the same
// MAC, and two addresses that share their last 32 bits do not.
func MACFromIP(ip netip.Addr) net.HardwareAddr {
	if ip.Is6() && !ip.Is4In6() {
		b := ip.As16()
		h := sha256.Sum256(b[:])
		return net.HardwareAddr{0x02, 0x42, h[0], h[1], h[2], h[3]}
	}
	b := ip.Unmap().As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// ValidName reports whether name can be an interface name: 1 to 15 bytes,
// no '/', ':', whitespace, and not "." or "..".
func ValidName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n\x00")
}
