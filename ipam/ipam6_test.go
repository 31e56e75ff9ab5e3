package ipam

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/ipaddr"
)

func TestNewRange6Bounds(t *testing.T) {
	for _, c := range []struct{ subnet, first, last string }{
		{"fd00:1:2::/48", "fd00:1:2::1", "fd00:1:2:ffff:ffff:ffff:ffff:ffff"},
		{"fd00::/64", "fd00::1", "fd00::ffff:ffff:ffff:ffff"},
		{"fd00::100/120", "fd00::101", "fd00::1ff"},
	} {
		r := mustRange(t, c.subnet, "", "")
		if r.First != netip.MustParseAddr(c.first) || r.Last != netip.MustParseAddr(c.last) {
			t.Errorf("%s: range %s-%s, want %s-%s", c.subnet, r.First, r.Last, c.first, c.last)
		}
		if r.Contains(r.Subnet.Addr()) {
			t.Errorf("%s: the subnet-router anycast address is handed out", c.subnet)
		}
		if !r.Contains(r.Last) {
			t.Errorf("%s: the last address is not handed out (IPv6 has no broadcast)", c.subnet)
		}
	}
	if got := mustRange(t, "fd00::/120", "", "fd00::1").Size(); got != 255 {
		t.Errorf("Size of a /120 = %d, want 255", got)
	}
	for _, s := range []string{"fd00::/64", "fd00::/48"} {
		if got := mustRange(t, s, "", "").Size(); got != math.MaxInt {
			t.Errorf("Size of a %s = %d, want math.MaxInt", s, got)
		}
	}
	for bad, msg := range map[string]string{
		"fd00::/47":  "IPv6 subnet fd00::/47 is too large: at most a /48",
		"fd00::/40":  "IPv6 subnet fd00::/40 is too large: at most a /48",
		"fd00::/121": "IPv6 subnet fd00::/121 is too small: at least a /120",
		"fd00::/128": "IPv6 subnet fd00::/128 is too small: at least a /120",
	} {
		_, err := NewRange(netip.MustParsePrefix(bad), netip.Prefix{}, netip.Addr{})
		if err == nil || err.Error() != msg {
			t.Errorf("NewRange(%s) = %v, want %q", bad, err, msg)
		}
	}
}

func TestNewRange6IPRange(t *testing.T) {
	r := mustRange(t, "fd00::/64", "fd00::1:0/112", "fd00::1")
	if r.First != netip.MustParseAddr("fd00::1:0") || r.Last != netip.MustParseAddr("fd00::1:ffff") {
		t.Fatalf("ip-range = %s-%s", r.First, r.Last)
	}
	r = mustRange(t, "fd00::/64", "fd00::/120", "fd00::1")
	if r.First != netip.MustParseAddr("fd00::1") || r.Last != netip.MustParseAddr("fd00::ff") {
		t.Fatalf("ip-range at the subnet's start = %s-%s", r.First, r.Last)
	}
	for _, c := range [][3]string{
		{"fd00::/64", "fd01::/120", ""},   // outside
		{"fd00::/64", "fd00::/56", ""},    // bigger than the subnet
		{"fd00::/64", "10.1.0.0/24", ""},  // other family
		{"10.1.0.0/24", "fd00::/120", ""}, // other family
		{"fd00::/64", "", "10.1.0.1"},     // gateway of the other family
		{"::ffff:10.1.0.0/120", "", ""},   // IPv4-mapped
		{"fd00::/120", "fd00::/128", ""},  // only the anycast address
		{"fd00::/120", "fd00::1/128", "fd00::1"},
	} {
		var rp netip.Prefix
		if c[1] != "" {
			rp = netip.MustParsePrefix(c[1])
		}
		var gw netip.Addr
		if c[2] != "" {
			gw = netip.MustParseAddr(c[2])
		}
		if _, err := NewRange(netip.MustParsePrefix(c[0]), rp, gw); err == nil {
			t.Errorf("NewRange(%s, %s, %s) succeeded", c[0], c[1], c[2])
		}
	}
}

func TestAllocate6Sequence(t *testing.T) {
	a, _ := newAlloc(t, mustRange(t, "fd00:1::/64", "", "fd00:1::1"))
	for i, want := range []string{"fd00:1::2", "fd00:1::3", "fd00:1::4"} {
		ip, err := a.Allocate(fmt.Sprintf("ep%d", i), netip.Addr{})
		if err != nil || ip != netip.MustParseAddr(want) {
			t.Fatalf("allocation %d = %s, %v; want %s", i, ip, err, want)
		}
	}
	// Freed addresses are not handed out again before the range wraps.
	if err := a.Release("ep0", netip.MustParseAddr("fd00:1::2")); err != nil {
		t.Fatal(err)
	}
	if ip, _ := a.Allocate("ep3", netip.Addr{}); ip != netip.MustParseAddr("fd00:1::5") {
		t.Fatalf("after a release: %s, want fd00:1::5", ip)
	}
	// The last address of the subnet is handed out, then the range wraps
	// past the anycast address and the gateway.
	last := netip.MustParseAddr("fd00:1::ffff:ffff:ffff:ffff")
	if ip, err := a.Allocate("top", last); err != nil || ip != last {
		t.Fatalf("static last address: %s, %v", ip, err)
	}
	if err := a.Store.SetLastReserved(last.Prev()); err != nil {
		t.Fatal(err)
	}
	if ip, err := a.Allocate("wrap", netip.Addr{}); err != nil || ip != netip.MustParseAddr("fd00:1::2") {
		t.Fatalf("wrap: %s, %v; want fd00:1::2", ip, err)
	}
}

func TestAllocate6Static(t *testing.T) {
	a, _ := newAlloc(t, mustRange(t, "fd00::/64", "fd00::100/120", "fd00::1"))
	ip := netip.MustParseAddr("fd00::1ff")
	if got, err := a.Allocate("a", ip); err != nil || got != ip {
		t.Fatalf("static in range: %s %v", got, err)
	}
	if _, err := a.Allocate("b", ip); !errors.Is(err, ErrTaken) {
		t.Fatalf("second static: %v, want ErrTaken", err)
	}
	for _, s := range []string{"fd00::1", "fd00::", "fd00::2", "fd00::200", "fd01::150", "10.1.0.5", "fe80::150%eth0"} {
		if _, err := a.Allocate("c", netip.MustParseAddr(s)); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("static %s: %v, want ErrOutOfRange", s, err)
		}
	}
	_, err := a.Allocate("c", netip.MustParseAddr("fd00::"))
	if err == nil || !strings.Contains(err.Error(), "subnet-router anycast") {
		t.Errorf("static anycast address: %v, want it named", err)
	}
}

func TestAllocate6ExhaustSlash120(t *testing.T) {
	a, dir := newAlloc(t, mustRange(t, "fd00::/120", "", "fd00::1"))
	seen := map[netip.Addr]bool{}
	for i := 0; ; i++ {
		ip, err := a.Allocate(fmt.Sprintf("ep%d", i), netip.Addr{})
		if errors.Is(err, ErrExhausted) {
			break
		}
		if err != nil || seen[ip] || !a.Range.Contains(ip) {
			t.Fatalf("allocation %d: %s, %v (duplicate or out of range?)", i, ip, err)
		}
		seen[ip] = true
	}
	// 256 addresses less the anycast address and the gateway; fd00::ff counts.
	if len(seen) != 254 || !seen[netip.MustParseAddr("fd00::ff")] {
		t.Fatalf("a /120 gave %d addresses (fd00::ff: %v), want 254 including fd00::ff", len(seen), seen[netip.MustParseAddr("fd00::ff")])
	}
	if free, used, err := a.Free(); err != nil || free != 0 || used != 254 {
		t.Fatalf("Free = %d, %d, %v; want 0, 254", free, used, err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "ips"))
	if len(ents) != 254 {
		t.Fatalf("%d reservation files, want 254", len(ents))
	}
}

// countStore is a Store in memory that counts the calls that would read
// the disk.
type countStore struct {
	ips   map[netip.Addr]string
	last  netip.Addr
	calls int // Reserve, Release, Owner, Damaged: one file each
	lists int // Reserved: one directory read
}

func (s *countStore) Lock() error   { return nil }
func (s *countStore) Unlock() error { return nil }
func (s *countStore) Reserve(id string, ip netip.Addr) (bool, error) {
	s.calls++
	if _, ok := s.ips[ip]; ok {
		return false, nil
	}
	s.ips[ip] = id
	return true, nil
}
func (s *countStore) Release(ip netip.Addr) error { s.calls++; delete(s.ips, ip); return nil }
func (s *countStore) Owner(ip netip.Addr) (string, bool, error) {
	s.calls++
	id, ok := s.ips[ip]
	return id, ok, nil
}
func (s *countStore) Reserved() ([]netip.Addr, error) {
	s.lists++
	out := make([]netip.Addr, 0, len(s.ips))
	for ip := range s.ips {
		out = append(out, ip)
	}
	return out, nil
}
func (s *countStore) LastReserved() netip.Addr            { return s.last }
func (s *countStore) SetLastReserved(ip netip.Addr) error { s.last = ip; return nil }
func (s *countStore) Damaged(ip netip.Addr) bool          { s.calls++; return false }

// A /64 whose first 10000 addresses after the hint are all taken (static
// addresses in the way of the sequence): the allocation reads each
// reservation at most once and the directory once, however big the /64.
func TestAllocate6BoundedBySlash64Reservations(t *testing.T) {
	r := mustRange(t, "fd00::/64", "", "fd00::1")
	s := &countStore{ips: map[netip.Addr]string{}}
	const n = 10000
	for i := uint64(0); i < n; i++ {
		ip, _ := ipaddr.Add(netip.MustParseAddr("fd00::2"), i)
		s.ips[ip] = fmt.Sprintf("ep%d", i)
	}
	a := &Allocator{Range: r, Store: s}
	ip, err := a.Allocate("new", netip.Addr{})
	want, _ := ipaddr.Add(netip.MustParseAddr("fd00::2"), n)
	if err != nil || ip != want {
		t.Fatalf("allocation = %s, %v; want %s", ip, err, want)
	}
	if s.calls > n+2*probes+2*slack || s.lists != 1 {
		t.Fatalf("allocation made %d store calls and %d listings; want at most %d and 1", s.calls, s.lists, n+2*probes+2*slack)
	}
	// The next one follows at once, with no listing.
	s.calls, s.lists = 0, 0
	if ip, _ := a.Allocate("next", netip.Addr{}); ip != want.Next() || s.calls != 1 || s.lists != 0 {
		t.Fatalf("next allocation = %s after %d calls, %d listings; want %s after 1, 0", ip, s.calls, s.lists, want.Next())
	}
}

func TestDiskStore6Layout(t *testing.T) {
	netDir := t.TempDir()
	s4, err := NewDiskStore(netDir)
	if err != nil {
		t.Fatal(err)
	}
	s6, err := NewDiskStore6(netDir)
	if err != nil {
		t.Fatal(err)
	}
	a4 := &Allocator{Range: mustRange(t, "10.1.0.0/24", "", "10.1.0.1"), Store: s4}
	a6 := &Allocator{Range: mustRange(t, "fd00::/64", "", "fd00::1"), Store: s6}
	ip4, err4 := a4.Allocate("ep", netip.Addr{})
	ip6, err6 := a6.Allocate("ep", netip.Addr{})
	if err4 != nil || err6 != nil {
		t.Fatal(err4, err6)
	}
	for path, want := range map[string]string{
		"ips/10.1.0.2":        "ep",
		"last_reserved_ip":    "10.1.0.2",
		"v6/ips/fd00::2":      "ep",
		"v6/last_reserved_ip": "fd00::2",
	} {
		if b, err := os.ReadFile(filepath.Join(netDir, path)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if ips, _ := s4.Reserved(); len(ips) != 1 || ips[0] != ip4 {
		t.Errorf("IPv4 store lists %v", ips)
	}
	if ips, _ := s6.Reserved(); len(ips) != 1 || ips[0] != ip6 {
		t.Errorf("IPv6 store lists %v", ips)
	}
}

func TestULA(t *testing.T) {
	p, err := ULA("abc123", nil)
	if err != nil || p != netip.MustParsePrefix("fd6c:a13d:52ca::/64") {
		t.Fatalf("ULA(abc123) = %s, %v; want fd6c:a13d:52ca::/64 (sha256 of the id)", p, err)
	}
	if q, _ := ULA("abc123", nil); q != p {
		t.Fatalf("ULA is not stable: %s then %s", p, q)
	}
	if q, _ := ULA("abc124", nil); q == p {
		t.Fatalf("two ids gave %s", q)
	}
	used := []netip.Prefix{
		netip.MustParsePrefix("::/0"), // a default route: ignored
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd6c:a13d:52ca:1::/64"), // next door: no clash
	}
	if q, _ := ULA("abc123", used); q != p {
		t.Fatalf("ULA with non-clashing prefixes = %s, want %s", q, p)
	}
	// A clash moves to the next candidate, the same one every time.
	used = append(used, netip.MustParsePrefix("fd6c:a13d::/32"))
	q, err := ULA("abc123", used)
	if err != nil || q == p || !q.Addr().Is6() || q.Bits() != 64 || !netip.MustParsePrefix("fd00::/8").Contains(q.Addr()) {
		t.Fatalf("ULA after a clash = %s, %v", q, err)
	}
	if _, bad := Overlapping(q, used[1:]); bad {
		t.Fatalf("ULA %s overlaps %v", q, used)
	}
	if q2, _ := ULA("abc123", used); q2 != q {
		t.Fatalf("ULA after a clash is not stable: %s then %s", q, q2)
	}
	// Every ULA taken: one clear error.
	if _, err := ULA("abc123", []netip.Prefix{netip.MustParsePrefix("fc00::/7")}); err == nil || !strings.Contains(err.Error(), "--subnet") {
		t.Fatalf("ULA with fc00::/7 used: %v", err)
	}
}

func TestOverlapping(t *testing.T) {
	used := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00:1::/48")}
	if u, ok := Overlapping(netip.MustParsePrefix("fd00:1:0:2::/64"), used); !ok || u != used[1] {
		t.Errorf("Overlapping(fd00:1:0:2::/64) = %s, %v", u, ok)
	}
	if _, ok := Overlapping(netip.MustParsePrefix("fd00:2::/64"), used); ok {
		t.Error("fd00:2::/64 overlaps")
	}
	if _, ok := Overlapping(netip.MustParsePrefix("::ffff:10.1.0.0/120"), used); ok {
		t.Error("an IPv4-mapped prefix overlaps an IPv4 one")
	}
	if Broadcast(netip.MustParsePrefix("fd00::/64")).IsValid() || Broadcast(netip.MustParsePrefix("10.1.0.0/24")) != netip.MustParseAddr("10.1.0.255") {
		t.Error("Broadcast: IPv6 has none, IPv4 keeps its own")
	}
}

// raceStore refuses every reservation, as if another writer that ignores
// the lock took each address just before: the walk must stop after a few
// more addresses than there are reservations, not after 2^64.
type raceStore struct{ countStore }

func (s *raceStore) Reserve(id string, ip netip.Addr) (bool, error) { s.calls++; return false, nil }

func TestAllocate6WalkBoundedUnderRaces(t *testing.T) {
	s := &raceStore{countStore{ips: map[netip.Addr]string{}}}
	for _, ip := range []string{"fd00::2", "fd00::3", "fd00::4"} {
		s.ips[netip.MustParseAddr(ip)] = "x"
	}
	a := &Allocator{Range: mustRange(t, "fd00::/64", "", "fd00::1"), Store: s}
	_, err := a.Allocate("new", netip.Addr{})
	if !errors.Is(err, ErrExhausted) || s.calls > 2*probes+2*(3+2+slack) {
		t.Fatalf("allocation under races: %v after %d store calls", err, s.calls)
	}
}
