package ipaddr

import (
	"math"
	"net/netip"
	"testing"
)

func TestLast(t *testing.T) {
	for p, want := range map[string]string{
		"10.1.0.0/24":     "10.1.0.255",
		"10.1.0.7/29":     "10.1.0.7",
		"10.1.0.0/32":     "10.1.0.0",
		"0.0.0.0/0":       "255.255.255.255",
		"fd00::/64":       "fd00::ffff:ffff:ffff:ffff",
		"fd00:1:2::/48":   "fd00:1:2:ffff:ffff:ffff:ffff:ffff",
		"fd00::100/120":   "fd00::1ff",
		"fd00::/121":      "fd00::7f",
		"fd00::1234/125":  "fd00::1237",
		"2001:db8::1/128": "2001:db8::1",
	} {
		if got := Last(netip.MustParsePrefix(p)); got != netip.MustParseAddr(want) {
			t.Errorf("Last(%s) = %s, want %s", p, got, want)
		}
	}
	if Last(netip.Prefix{}).IsValid() {
		t.Error("Last of the zero prefix is valid")
	}
}

func TestSub(t *testing.T) {
	a := netip.MustParseAddr
	for _, c := range []struct {
		b, a string
		n    uint64
		ok   bool
	}{
		{"10.1.0.255", "10.1.0.1", 254, true},
		{"10.1.0.1", "10.1.0.1", 0, true},
		{"10.1.0.1", "10.1.0.2", math.MaxUint64, false},
		{"fd00::1", "10.1.0.1", math.MaxUint64, false},
		{"fd00::ffff:ffff:ffff:ffff", "fd00::1", math.MaxUint64 - 1, true},
		{"fd00:0:0:1::", "fd00::ffff:ffff:ffff:ffff", 1, true},
		{"fd00:0:0:ffff::", "fd00::", math.MaxUint64, false},
	} {
		n, ok := Sub(a(c.b), a(c.a))
		if n != c.n || ok != c.ok {
			t.Errorf("Sub(%s, %s) = %d, %v; want %d, %v", c.b, c.a, n, ok, c.n, c.ok)
		}
	}
}

func TestAdd(t *testing.T) {
	a := netip.MustParseAddr
	for _, c := range []struct {
		a    string
		n    uint64
		want string
	}{
		{"10.1.0.1", 1, "10.1.0.2"},
		{"10.1.0.255", 1, "10.1.1.0"},
		{"255.255.255.254", 1, "255.255.255.255"},
		{"255.255.255.255", 1, ""},
		{"fd00::ffff:ffff:ffff:ffff", 1, "fd00:0:0:1::"},
		{"fd00::", 10000, "fd00::2710"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, ""},
	} {
		got, ok := Add(a(c.a), c.n)
		if (c.want == "" && ok) || (c.want != "" && (!ok || got != a(c.want))) {
			t.Errorf("Add(%s, %d) = %s, %v; want %q", c.a, c.n, got, ok, c.want)
		}
	}
}
