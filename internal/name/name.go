// Package name holds the character checks plumb's names share: network,
// sandbox, bridge and endpoint names, rule comments. They are written out
// rather than as regular expressions: compiling those at start-up cost
// more than half a millisecond of every plumb invocation.
package name

// Alnum reports whether c is an ASCII letter or digit.
func Alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Token reports whether every byte of s is one of [A-Za-z0-9_.-]: a name
// that is one token in a rule comment, a file name and an interface name.
func Token(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !Alnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// Valid reports whether s is min to max bytes of [A-Za-z0-9_.-] starting
// with a letter or digit, and ending with one too when alnumEnd is set:
// Docker's name pattern [a-zA-Z0-9][a-zA-Z0-9_.-]*, bounded.
func Valid(s string, min, max int, alnumEnd bool) bool {
	if len(s) < min || len(s) > max || len(s) == 0 || !Alnum(s[0]) || (alnumEnd && !Alnum(s[len(s)-1])) {
		return false
	}
	return Token(s)
}

// HexID reports whether s is n lower-case hex digits.
func HexID(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
