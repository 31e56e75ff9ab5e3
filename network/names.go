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
