package dns

import (
	"net/netip"
	"strings"
)

// canonicalName is the form names are stored and matched in: one trailing
// dot removed, ASCII upper case folded to lower (DNS compares names
// ASCII-case-insensitively, RFC 4343). It allocates only when name has an
// upper-case letter.
func canonicalName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return lowerASCII(name)
		}
	}
	return name
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

const (
	ipv4Reverse = ".in-addr.arpa"
	ipv6Reverse = ".ip6.arpa"
)

// parseReverseName returns the address a complete reverse name stands for:
// "4.3.2.1.in-addr.arpa." is 1.2.3.4, and 32 nibble labels under ip6.arpa
// are an IPv6 address. Partial names (a whole /24, say) and anything
// malformed return false.
func parseReverseName(name string) (netip.Addr, bool) {
	name = canonicalName(name)
	if rest, ok := strings.CutSuffix(name, ipv4Reverse); ok {
		return parseReverse4(rest)
	}
	if rest, ok := strings.CutSuffix(name, ipv6Reverse); ok {
		return parseReverse6(rest)
	}
	return netip.Addr{}, false
}

func parseReverse4(s string) (netip.Addr, bool) {
	labels := strings.Split(s, ".")
	if len(labels) != 4 {
		return netip.Addr{}, false
	}
	// ParseAddr rejects leading zeros, empty octets and values over 255.
	ip, err := netip.ParseAddr(labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0])
	if err != nil {
		return netip.Addr{}, false
	}
	return ip, true
}

func parseReverse6(s string) (netip.Addr, bool) {
	// 32 single-nibble labels, least significant first: "b.a.9.8. ... .0.2"
	if len(s) != 32*2-1 {
		return netip.Addr{}, false
	}
	var b [16]byte
	for i := 0; i < 32; i++ {
		c := s[i*2]
		if i < 31 && s[i*2+1] != '.' {
			return netip.Addr{}, false
		}
		v, ok := hexNibble(c)
		if !ok {
			return netip.Addr{}, false
		}
		pos := 31 - i // nibble index from the most significant
		if pos%2 == 0 {
			b[pos/2] |= v << 4
		} else {
			b[pos/2] |= v
		}
	}
	return netip.AddrFrom16(b), true
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false // input is already lower case
}
