package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestTableLookup(t *testing.T) {
	tb := testTable()
	front := []string{"front"}
	for _, tc := range []struct {
		networks []string
		name     string
		v4, v6   []netip.Addr
	}{
		{front, "web", addrs("10.1.0.2"), addrs("fd00:1::2")},
		{front, "www", addrs("10.1.0.2"), addrs("fd00:1::2")},          // alias
		{front, "0123456789ab", addrs("10.1.0.2"), addrs("fd00:1::2")}, // short id
		{front, "WeB.", addrs("10.1.0.2"), addrs("fd00:1::2")},         // case, trailing dot
		{front, "web.front", addrs("10.1.0.2"), addrs("fd00:1::2")},    // name.network
		{front, "WEB.FRONT.", addrs("10.1.0.2"), addrs("fd00:1::2")},
		{front, "api", addrs("10.1.0.3"), nil},
		{front, "db", nil, nil},       // only on back
		{front, "db.back", nil, nil},  // back is not in scope
		{front, "web.back", nil, nil}, // idem
		{front, "nothere", nil, nil},  // unknown
		{front, "", nil, nil},         // empty
		{front, ".", nil, nil},        // root
		{nil, "web", nil, nil},        // no networks in scope
		{[]string{"back"}, "web", addrs("10.2.0.5"), nil},
		// first network in scope order wins
		{[]string{"front", "back"}, "web", addrs("10.1.0.2"), addrs("fd00:1::2")},
		{[]string{"back", "front"}, "web", addrs("10.2.0.5"), nil},
		{[]string{"front", "back"}, "db", addrs("10.2.0.2"), nil},
		{[]string{"front", "back"}, "web.back", addrs("10.2.0.5"), nil},
		{[]string{"nonet"}, "web", nil, nil},
	} {
		v4, v6 := tb.Lookup(tc.networks, tc.name)
		if !slices.Equal(v4, tc.v4) || !slices.Equal(v6, tc.v6) {
			t.Errorf("Lookup(%q, %q) = %v %v, want %v %v", tc.networks, tc.name, v4, v6, tc.v4, tc.v6)
		}
	}
}

func TestTableSharedAliasAnswersAll(t *testing.T) {
	tb := NewTable()
	tb.Set("n", "b", []string{"b", "svc"}, netip.MustParseAddr("10.0.0.3"), netip.Addr{})
	tb.Set("n", "a", []string{"a", "svc"}, netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2"))
	v4, v6 := tb.Lookup([]string{"n"}, "svc")
	if want := addrs("10.0.0.2", "10.0.0.3"); !slices.Equal(v4, want) {
		t.Errorf("v4 = %v, want %v", v4, want)
	}
	if want := addrs("fd00::2"); !slices.Equal(v6, want) {
		t.Errorf("v6 = %v, want %v", v6, want)
	}
	// The returned slices are the caller's: changing them changes nothing.
	v4[0] = netip.MustParseAddr("1.1.1.1")
	if again, _ := tb.Lookup([]string{"n"}, "svc"); again[0] != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("Lookup result aliases the table: %v", again)
	}
}

func TestTableSetReplacesAndRemove(t *testing.T) {
	tb := NewTable()
	n := []string{"n"}
	tb.Set("n", "ep", []string{"old", "shared"}, netip.MustParseAddr("10.0.0.2"), netip.Addr{})
	tb.Set("n", "ep", []string{"New", "shared"}, netip.MustParseAddr("10.0.0.9"), netip.Addr{})
	if v4, _ := tb.Lookup(n, "old"); v4 != nil {
		t.Errorf("old name still resolves: %v", v4)
	}
	if v4, _ := tb.Lookup(n, "new"); !slices.Equal(v4, addrs("10.0.0.9")) {
		t.Errorf("new = %v", v4)
	}
	if got := tb.Reverse(n, netip.MustParseAddr("10.0.0.2")); got != nil {
		t.Errorf("old address still has PTR %v", got)
	}
	tb.Remove("n", "ep")
	tb.Remove("n", "ep") // already gone: fine
	tb.Remove("nonet", "x")
	if v4, v6 := tb.Lookup(n, "new"); v4 != nil || v6 != nil {
		t.Errorf("removed endpoint resolves: %v %v", v4, v6)
	}
	if nets := tb.Networks(); len(nets) != 0 {
		t.Errorf("Networks after removing everything = %v", nets)
	}
}

func TestTableSetWithoutAddressOrNamesRemoves(t *testing.T) {
	tb := NewTable()
	n := []string{"n"}
	tb.Set("n", "ep", []string{"x"}, netip.MustParseAddr("10.0.0.2"), netip.Addr{})
	tb.Set("n", "ep", []string{"x"}, netip.Addr{}, netip.Addr{})
	if v4, _ := tb.Lookup(n, "x"); v4 != nil {
		t.Errorf("endpoint without address still resolves: %v", v4)
	}
	tb.Set("n", "ep", []string{"x"}, netip.MustParseAddr("10.0.0.2"), netip.Addr{})
	tb.Set("n", "ep", []string{"", "."}, netip.MustParseAddr("10.0.0.2"), netip.Addr{})
	if v4, _ := tb.Lookup(n, "x"); v4 != nil {
		t.Errorf("endpoint without names still resolves: %v", v4)
	}
	// Addresses of the wrong family are ignored, mapped ones unmapped.
	tb.Set("n", "ep", []string{"y"}, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.0.0.3"))
	if v4, v6 := tb.Lookup(n, "y"); v4 != nil || v6 != nil {
		t.Errorf("wrong-family addresses kept: %v %v", v4, v6)
	}
	tb.Set("n", "ep", []string{"z"}, netip.MustParseAddr("::ffff:10.0.0.4"), netip.MustParseAddr("::ffff:10.0.0.5"))
	if v4, v6 := tb.Lookup(n, "z"); !slices.Equal(v4, addrs("10.0.0.4")) || v6 != nil {
		t.Errorf("mapped addresses: %v %v", v4, v6)
	}
}

func TestTableReverse(t *testing.T) {
	tb := testTable()
	for _, tc := range []struct {
		networks []string
		ip       string
		want     []string
	}{
		{[]string{"front"}, "10.1.0.2", []string{"web.front"}}, // first name, network appended
		{[]string{"front"}, "fd00:1::2", []string{"web.front"}},
		{[]string{"front"}, "::ffff:10.1.0.2", []string{"web.front"}},
		{[]string{"front"}, "10.2.0.2", nil}, // back's address, not in scope
		{[]string{"back"}, "10.2.0.2", []string{"db.back"}},
		{[]string{"front", "back"}, "10.2.0.5", []string{"web.back"}},
		{[]string{"front"}, "10.9.9.9", nil},
	} {
		got := tb.Reverse(tc.networks, netip.MustParseAddr(tc.ip))
		if !slices.Equal(got, tc.want) {
			t.Errorf("Reverse(%q, %s) = %q, want %q", tc.networks, tc.ip, got, tc.want)
		}
	}
}

func TestTableRecordsSorted(t *testing.T) {
	tb := testTable()
	got := tb.Records("front")
	want := []Record{
		{"front", "ep-web", "0123456789ab", webV4, webV6},
		{"front", "ep-api", "api", apiV4, netip.Addr{}},
		{"front", "ep-web", "web", webV4, webV6},
		{"front", "ep-web", "www", webV4, webV6},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Records(front) =\n%v\nwant\n%v", got, want)
	}
	if r := tb.Records("nonet"); r != nil {
		t.Errorf("Records(nonet) = %v", r)
	}
	if nets := tb.Networks(); !slices.Equal(nets, []string{"back", "front", "locked"}) {
		t.Errorf("Networks = %v", nets)
	}
}

// Readers and a writer at once; run with -race. Every read sees either the
// whole of a Set or none of it: a name and its address always agree.
func TestTableConcurrent(t *testing.T) {
	tb := NewTable()
	n := []string{"n"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range 10 {
					v4, _ := tb.Lookup(n, fmt.Sprintf("ep%d", i))
					if len(v4) > 1 || (len(v4) == 1 && v4[0].As4()[3] != byte(i)) {
						t.Errorf("ep%d = %v", i, v4)
						return
					}
				}
			}
		}()
	}
	for round := range 200 {
		for i := range 10 {
			id := fmt.Sprintf("ep%d", i)
			if (round+i)%3 == 0 {
				tb.Remove("n", id)
			} else {
				tb.Set("n", id, []string{id}, netip.AddrFrom4([4]byte{10, 0, byte(round), byte(i)}), netip.Addr{})
			}
		}
	}
	close(stop)
	wg.Wait()
}

func TestParseReverseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" = not an address
	}{
		{"2.0.1.10.in-addr.arpa.", "10.1.0.2"},
		{"2.0.1.10.IN-ADDR.ARPA", "10.1.0.2"},
		{"0.1.10.in-addr.arpa.", ""},
		{"1.2.0.1.10.in-addr.arpa.", ""},
		{"256.0.1.10.in-addr.arpa.", ""},
		{"02.0.1.10.in-addr.arpa.", ""},
		{"..1.10.in-addr.arpa.", ""},
		{"in-addr.arpa.", ""},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa.", "fd00:1::2"},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.D.F.IP6.ARPA", "fd00:1::2"},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.0.0.d.ip6.arpa.", ""},
		{"20.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", ""},
		{"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", ""},
		{"web.", ""},
	} {
		ip, ok := parseReverseName(tc.name)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tc.want {
			t.Errorf("parseReverseName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
