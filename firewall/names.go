package firewall

// The name checks are written out rather than as regular expressions:
// compiling those when the package is initialised cost a few hundred
// microseconds of every plumb process, the CNI plugin's included (as in
// network/names.go).

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// tokenOK reports whether every byte of s is one of [A-Za-z0-9_.-].
func tokenOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}
