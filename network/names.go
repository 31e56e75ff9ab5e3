package network

import "github.com/plumbnet/plumb/internal/name"

// Validators for names (package internal/name has the character checks).

// validNetworkName: 1-64 of [a-zA-Z0-9_.-], starting with a letter or digit.
func validNetworkName(s string) bool { return name.Valid(s, 1, 64, false) }

// validID: 64 lower-case hex digits.
func validID(s string) bool { return name.HexID(s, 64) }

// validDNSName: 1-253 of [a-zA-Z0-9_.-], starting and ending with a
// letter, digit or '_'.
func validDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	edge := func(c byte) bool { return name.Alnum(c) || c == '_' }
	if !edge(s[0]) || !edge(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !edge(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validBridgeName: 1-15 of [a-zA-Z0-9_.-], starting with a letter or
// digit (so never an option to `ip` or "." and ".."), and not a name any
// tool could read as an IPv4 address (numericAddress): an interface
// "127.0.0.1" is one `ping -I 127.0.0.1` or a reader of `ip addr` takes
// for the loopback address.
func validBridgeName(s string) bool { return name.Valid(s, 1, 15, false) && !numericAddress(s) }

// numericAddress reports whether s, split at its dots, is made of numbers
// only (decimal digits, or 0x and hex digits; empty parts count): every
// form inet_aton(3) reads as an IPv4 address ("127.0.0.1", "127.1",
// "2130706433", "0x7f000001", "0177.1"), and the near misses ("1.2.3.4.5")
// a reader would still take for one.
func numericAddress(s string) bool {
	part := 0 // bytes of the current part
	hex := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			part, hex = 0, false
			continue
		case part == 1 && s[i-1] == '0' && (c == 'x' || c == 'X'):
			hex = true
		case c >= '0' && c <= '9', hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
		default:
			return false
		}
		part++
	}
	return true
}
