package store

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

// 3 hosts x 50 concurrent claims: 150 distinct blocks, each held by the
// host that was told it got it (counted).
func TestClaimBlockRace(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	nw := mustNet(t, s, "blue", "10.20.0.0/16")
	type claim struct {
		host  string
		block netip.Prefix
		err   error
	}
	claims := make(chan claim, 150)
	var wg sync.WaitGroup
	for h := 1; h <= 3; h++ {
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(host string) {
				defer wg.Done()
				b, err := s.ClaimBlock(ctx, "blue", host, nw.Subnet, 26)
				claims <- claim{host, b, err}
			}(fmt.Sprintf("h%d", h))
		}
	}
	wg.Wait()
	close(claims)
	owner := map[netip.Prefix]string{}
	dups := 0
	for c := range claims {
		if c.err != nil {
			t.Fatalf("%s: %v", c.host, c.err)
		}
		if prev, dup := owner[c.block]; dup {
			dups++
			t.Errorf("block %s claimed by %s and %s", c.block, prev, c.host)
		}
		owner[c.block] = c.host
	}
	stored, err := s.Blocks(ctx, "blue")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("150 claims: %d distinct blocks, %d claimed twice, %d stored", len(owner), dups, len(stored))
	if len(owner) != 150 || len(stored) != 150 {
		t.Fatalf("want 150 distinct blocks claimed and stored")
	}
	for b, h := range owner {
		if stored[b] != h {
			t.Errorf("block %s: told %s, stored %q", b, h, stored[b])
		}
		if b.Bits() != 26 || !nw.Subnet.Contains(b.Addr()) || b != b.Masked() {
			t.Errorf("block %s is not a /26 of %s", b, nw.Subnet)
		}
	}
}

// A /24 has four /26 blocks: claimed in address order, then a clear error.
func TestClaimBlockExhausted(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	nw := mustNet(t, s, "blue", "10.20.0.0/24")
	for i, want := range []string{"10.20.0.0/26", "10.20.0.64/26", "10.20.0.128/26", "10.20.0.192/26"} {
		b, err := s.ClaimBlock(ctx, "blue", fmt.Sprintf("h%d", i), nw.Subnet, 26)
		if err != nil || b.String() != want {
			t.Fatalf("claim %d: %s, %v; want %s", i+1, b, err, want)
		}
	}
	_, err := s.ClaimBlock(ctx, "blue", "h9", nw.Subnet, 26)
	const want = `network "blue": no free block: all 4 /26 blocks of 10.20.0.0/24 are claimed`
	if !errors.Is(err, ErrNoBlock) || err.Error() != want {
		t.Fatalf("fifth claim: %v; want %q", err, want)
	}
	if _, err := s.ClaimBlock(ctx, "nosuch", "h1", nw.Subnet, 26); !errors.Is(err, ErrNotFound) {
		t.Fatalf("claim on a missing network: %v; want ErrNotFound", err)
	}
	for _, bits := range []int{23, 33} {
		if _, err := s.ClaimBlock(ctx, "blue", "h1", nw.Subnet, bits); !errors.Is(err, ErrInvalid) || !contains(err, fmt.Sprintf("/%d", bits)) {
			t.Errorf("claim /%d: %v; want ErrInvalid naming /%d", bits, err, bits)
		}
	}
}
