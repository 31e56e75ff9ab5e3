package network

// Validators for names, written out rather than as regular expressions:
// compiling those at start-up cost more than half a millisecond of every
// plumb invocation.

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validNetworkName: 1-64 of [a-zA-Z0-9_.-], starting with a letter or digit.
func validNetworkName(s string) bool {
	if len(s) == 0 || len(s) > 64 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validID: 64 lower-case hex digits.
func validID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validDNSName: 1-253 of [a-zA-Z0-9_.-], starting and ending with a
// letter, digit or '_'.
func validDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	edge := func(c byte) bool { return alnum(c) || c == '_' }
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
