package name

import (
	"regexp"
	"strings"
	"testing"
)

// The checks agree with the regular expressions they stand for, on short
// names built from every byte.
func TestAgainstRegexps(t *testing.T) {
	token := regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)
	docker := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	ends := regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$`)
	for c := 0; c < 256; c++ {
		for _, s := range []string{string(rune(c)), "a" + string(byte(c)), string(byte(c)) + "a", "a" + string(byte(c)) + "b"} {
			if Token(s) != token.MatchString(s) {
				t.Errorf("Token(%q) = %v", s, Token(s))
			}
			if Valid(s, 1, 64, false) != docker.MatchString(s) {
				t.Errorf("Valid(%q, false) = %v", s, Valid(s, 1, 64, false))
			}
			if Valid(s, 1, 64, true) != ends.MatchString(s) {
				t.Errorf("Valid(%q, true) = %v", s, Valid(s, 1, 64, true))
			}
		}
	}
	if Valid("", 0, 10, false) || Valid("ab", 3, 10, false) || Valid(strings.Repeat("a", 11), 1, 10, false) {
		t.Error("length bounds not kept")
	}
	if !HexID(strings.Repeat("af09", 16), 64) || HexID(strings.Repeat("A", 64), 64) || HexID("ab", 64) {
		t.Error("HexID")
	}
}
