package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func mustRange(t *testing.T, subnet, ipRange, gw string) Range {
	t.Helper()
	var rp netip.Prefix
	if ipRange != "" {
		rp = netip.MustParsePrefix(ipRange)
	}
	var g netip.Addr
	if gw != "" {
		g = netip.MustParseAddr(gw)
	}
	r, err := NewRange(netip.MustParsePrefix(subnet), rp, g)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newAlloc(t *testing.T, r Range) (*Allocator, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := NewDiskStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Allocator{Range: r, Store: s}, dir
}

func TestNewRange(t *testing.T) {
	r := mustRange(t, "10.1.0.0/24", "", "10.1.0.1")
	if r.First != netip.MustParseAddr("10.1.0.1") || r.Last != netip.MustParseAddr("10.1.0.254") {
		t.Fatalf("range = %s-%s", r.First, r.Last)
	}
	if r.Contains(netip.MustParseAddr("10.1.0.1")) || r.Contains(netip.MustParseAddr("10.1.0.255")) || r.Contains(netip.MustParseAddr("10.1.0.0")) {
		t.Fatal("gateway, broadcast or network address is handed out")
	}
	r = mustRange(t, "10.1.0.0/16", "10.1.5.0/24", "10.1.0.1")
	if r.First != netip.MustParseAddr("10.1.5.0") || r.Last != netip.MustParseAddr("10.1.5.255") {
		t.Fatalf("ip-range = %s-%s", r.First, r.Last)
	}
	for _, bad := range [][3]string{
		{"10.1.0.0/24", "10.2.0.0/25", ""},
		{"10.1.0.0/24", "10.0.0.0/16", ""},
		{"10.1.0.0/31", "", ""},
		{"fd00::/40", "", ""},
		{"10.1.0.0/24", "fd00::/64", ""},
	} {
		var rp netip.Prefix
		if bad[1] != "" {
			rp = netip.MustParsePrefix(bad[1])
		}
		if _, err := NewRange(netip.MustParsePrefix(bad[0]), rp, netip.Addr{}); err == nil {
			t.Errorf("NewRange(%s, %s) succeeded", bad[0], bad[1])
		}
	}
}

func TestAllocateFullSlash24(t *testing.T) {
	a, _ := newAlloc(t, mustRange(t, "10.1.0.0/24", "", "10.1.0.1"))
	seen := map[netip.Addr]bool{}
	for i := 0; i < 253; i++ {
		ip, err := a.Allocate(fmt.Sprintf("ep%d", i), netip.Addr{})
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[ip] || !a.Range.Contains(ip) {
			t.Fatalf("allocation %d gave %s (duplicate or out of range)", i, ip)
		}
		seen[ip] = true
	}
	if _, err := a.Allocate("one-more", netip.Addr{}); !errors.Is(err, ErrExhausted) {
		t.Fatalf("allocation in a full /24: err = %v, want ErrExhausted", err)
	}
	// Freeing one address in the middle makes exactly that one available.
	mid := netip.MustParseAddr("10.1.0.100")
	owner, _, _ := a.Store.Owner(mid)
	if err := a.Release(owner, mid); err != nil {
		t.Fatal(err)
	}
	ip, err := a.Allocate("again", netip.Addr{})
	if err != nil || ip != mid {
		t.Fatalf("after freeing %s: got %s, %v", mid, ip, err)
	}
}

func TestAllocateStatic(t *testing.T) {
	a, _ := newAlloc(t, mustRange(t, "10.1.0.0/24", "", "10.1.0.1"))
	ip := netip.MustParseAddr("10.1.0.50")
	if got, err := a.Allocate("a", ip); err != nil || got != ip {
		t.Fatalf("static: %s %v", got, err)
	}
	if _, err := a.Allocate("b", ip); !errors.Is(err, ErrTaken) {
		t.Fatalf("second static: %v, want ErrTaken", err)
	}
	for _, s := range []string{"10.1.0.1", "10.1.0.0", "10.1.0.255", "10.2.0.5"} {
		if _, err := a.Allocate("c", netip.MustParseAddr(s)); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("static %s: %v, want ErrOutOfRange", s, err)
		}
	}
}

func TestReleaseOnlyOwn(t *testing.T) {
	a, _ := newAlloc(t, mustRange(t, "10.1.0.0/24", "", "10.1.0.1"))
	ip, _ := a.Allocate("owner", netip.Addr{})
	if err := a.Release("someone-else", ip); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Store.Owner(ip); !ok {
		t.Fatal("release by a non-owner freed the address")
	}
	if err := a.Release("owner", ip); err != nil {
		t.Fatal(err)
	}
	if err := a.Release("owner", ip); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if _, ok, _ := a.Store.Owner(ip); ok {
		t.Fatal("address still reserved")
	}
}

// TestAllocateConcurrent runs many allocators, each with its own store handle
// on one directory as separate processes would, and checks no address is
// handed out twice.
func TestAllocateConcurrent(t *testing.T) {
	r := mustRange(t, "10.1.0.0/24", "", "10.1.0.1")
	dir := t.TempDir()
	const n = 200
	var wg sync.WaitGroup
	ips := make([]netip.Addr, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := NewDiskStore(dir)
			if err != nil {
				errs[i] = err
				return
			}
			a := &Allocator{Range: r, Store: s}
			ips[i], errs[i] = a.Allocate(fmt.Sprintf("ep%d", i), netip.Addr{})
		}(i)
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	for i := range ips {
		if errs[i] != nil {
			t.Fatalf("allocation %d: %v", i, errs[i])
		}
		if j, dup := seen[ips[i]]; dup {
			t.Fatalf("%s handed to %d and %d", ips[i], j, i)
		}
		seen[ips[i]] = i
	}
}

func TestDamagedStateFiles(t *testing.T) {
	r := mustRange(t, "10.1.0.0/29", "", "10.1.0.1") // .2-.6 usable
	a, dir := newAlloc(t, r)
	old := time.Now().Add(-time.Hour)
	write := func(name, content string, stale bool) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if stale {
			os.Chtimes(p, old, old)
		}
	}
	write("last_reserved_ip", "10.1.0", false)      // truncated hint
	write("ips/10.1.0.2", "", true)                 // empty, left by a crash long ago
	write("ips/10.1.0.3", "\x00\xffgarbage/", true) // garbage, old
	write("ips/10.1.0.4", "", false)                // empty and fresh: a writer killed just now
	write("ips/not-an-ip", "x", true)
	got := map[netip.Addr]bool{}
	for i := 0; i < 3; i++ {
		ip, err := a.Allocate(fmt.Sprintf("ep%d", i), netip.Addr{})
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got[ip] = true
	}
	// Under the lock no one can be writing a reservation: old or fresh,
	// damaged ones are taken over.
	for _, want := range []string{"10.1.0.2", "10.1.0.3", "10.1.0.4"} {
		if !got[netip.MustParseAddr(want)] {
			t.Errorf("damaged reservation %s was not reclaimed; got %v", want, got)
		}
	}
	write("last_reserved_ip", "", false)
	if _, err := a.Allocate("ep9", netip.Addr{}); err != nil && !errors.Is(err, ErrExhausted) {
		t.Fatalf("empty hint: %v", err)
	}
}

func TestReleaseOwner(t *testing.T) {
	a, _ := newAlloc(t, mustRange(t, "10.1.0.0/24", "", "10.1.0.1"))
	mine1, _ := a.Allocate("mine", netip.Addr{})
	theirs, _ := a.Allocate("theirs", netip.Addr{})
	mine2, _ := a.Allocate("mine", netip.Addr{})
	if err := a.ReleaseOwner("mine"); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{mine1, mine2} {
		if _, ok, _ := a.Store.Owner(ip); ok {
			t.Errorf("%s still reserved", ip)
		}
	}
	if owner, ok, _ := a.Store.Owner(theirs); !ok || owner != "theirs" {
		t.Error("someone else's address was released")
	}
}

func TestPickSubnetSkipsUsed(t *testing.T) {
	used := []netip.Prefix{
		netip.MustParsePrefix("172.30.0.0/24"),
		netip.MustParsePrefix("172.30.1.0/25"),
		netip.MustParsePrefix("172.30.2.7/32"),
	}
	got, err := PickSubnet(used)
	if err != nil || got != netip.MustParsePrefix("172.30.3.0/24") {
		t.Fatalf("PickSubnet = %s, %v; want 172.30.3.0/24", got, err)
	}
	// A host route covering the whole first pool moves to the next.
	got, _ = PickSubnet([]netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")})
	if got != netip.MustParsePrefix("10.210.0.0/24") {
		t.Fatalf("PickSubnet past 172.16/12 = %s", got)
	}
	if _, err := PickSubnet([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}); err == nil {
		t.Fatal("PickSubnet found a subnet when everything is used")
	}
}
