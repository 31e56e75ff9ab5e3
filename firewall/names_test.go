package firewall

import (
	"regexp"
	"strings"
	"testing"
)

// TestNameChecksMatchTheirPatterns checks the hand-written checks against
// the regular expressions they replace, on names built from every byte.
func TestNameChecksMatchTheirPatterns(t *testing.T) {
	checks := []struct {
		re *regexp.Regexp
		fn func(string) bool
	}{
		{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`), nameOK},
		{regexp.MustCompile(`^[A-Za-z0-9_.-]+$`), bridgeOK},
		{regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`), ownerOK},
	}
	var inputs []string
	for c := 0; c < 256; c++ {
		b := string(rune(c))
		if c >= 0x80 {
			b = string([]byte{byte(c)})
		}
		inputs = append(inputs, b, "a"+b, b+"a", "a"+b+"b")
	}
	inputs = append(inputs, "", strings.Repeat("a", 64), strings.Repeat("a", 65), "cni-0123", "plumb:x", "a b", "ü")
	for _, c := range checks {
		for _, s := range inputs {
			if got, want := c.fn(s), c.re.MatchString(s); got != want {
				t.Errorf("%s on %q: %v, the pattern says %v", c.re, s, got, want)
			}
		}
	}
}
