package store

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func TestNetworkRoundTrip(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	in := Network{Name: "blue", Subnet: netip.MustParsePrefix("10.20.0.0/16"),
		Gateway: netip.MustParseAddr("10.20.0.1"), MTU: 1450, Internal: true}
	got, err := s.CreateNetwork(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.VNI != VNIBase || len(got.ID) != 64 || got.Created.IsZero() {
		t.Fatalf("created %+v: want VNI %d, a 64-digit id, a creation time", got, VNIBase)
	}
	if _, err := s.CreateNetwork(ctx, in); !errors.Is(err, ErrExists) {
		t.Fatalf("second create of blue: %v; want ErrExists", err)
	}
	read, err := s.Network(ctx, "blue")
	if err != nil || read != got {
		t.Fatalf("Network(blue) = %+v, %v; want %+v", read, err, got)
	}
	list, rev, err := s.Networks(ctx)
	if err != nil || len(list) != 1 || list[0] != got || rev == 0 {
		t.Fatalf("Networks = %+v, rev %d, %v; want [blue]", list, rev, err)
	}
	// An explicit VNI is claimed as given, and only once.
	red, err := s.CreateNetwork(ctx, Network{Name: "red", Subnet: netip.MustParsePrefix("10.21.0.0/16"), VNI: 77})
	if err != nil || red.VNI != 77 {
		t.Fatalf("red with VNI 77: %+v, %v", red, err)
	}
	if _, err := s.CreateNetwork(ctx, Network{Name: "green", Subnet: red.Subnet, VNI: 77}); !errors.Is(err, ErrInUse) {
		t.Fatalf("green with red's VNI: %v; want ErrInUse", err)
	}
	for i := 0; i < 2; i++ {
		if err := s.DeleteNetwork(ctx, "blue", false); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}
	if _, err := s.Network(ctx, "blue"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Network(blue) after delete: %v; want ErrNotFound", err)
	}
	// Its VNI is free again.
	again := mustNet(t, s, "blue2", "10.22.0.0/16")
	if again.VNI != VNIBase {
		t.Fatalf("VNI after delete: %d; want %d back", again.VNI, VNIBase)
	}
}

func TestNetworkBadInput(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	p := netip.MustParsePrefix("10.0.0.0/24")
	bad := map[string]Network{
		`"a/b"`:        {Name: "a/b", Subnet: p},
		`""`:           {Subnet: p},
		`10.0.0.1/24`:  {Name: "n", Subnet: netip.MustParsePrefix("10.0.0.1/24")},
		`10.1.0.1`:     {Name: "n", Subnet: p, Gateway: netip.MustParseAddr("10.1.0.1")},
		`VNI 16777216`: {Name: "n", Subnet: p, VNI: MaxVNI + 1},
	}
	for want, n := range bad {
		_, err := s.CreateNetwork(ctx, n)
		if !errors.Is(err, ErrInvalid) || !contains(err, want) {
			t.Errorf("CreateNetwork(%+v): %v; want ErrInvalid naming %s", n, err, want)
		}
	}
	if list, _, _ := s.Networks(ctx); len(list) != 0 {
		t.Fatalf("bad input changed the store: %+v", list)
	}
}

// 20 hosts creating networks at once never share a VNI.
func TestVNIUniqueConcurrent(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	const n = 20
	vnis := make([]uint32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.CreateNetwork(ctx, Network{Name: fmt.Sprintf("n%d", i),
				Subnet: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i))})
			vnis[i], errs[i] = got.VNI, err
		}()
	}
	wg.Wait()
	seen := map[uint32]int{}
	for i, v := range vnis {
		if errs[i] != nil {
			t.Fatalf("create n%d: %v", i, errs[i])
		}
		if j, dup := seen[v]; dup {
			t.Fatalf("n%d and n%d both got VNI %d", i, j, v)
		}
		seen[v] = i
	}
	list, _, err := s.Networks(ctx)
	if err != nil || len(list) != n {
		t.Fatalf("Networks: %d, %v; want %d", len(list), err, n)
	}
	for _, nw := range list {
		if nw.VNI < VNIBase || nw.VNI >= VNIBase+n {
			t.Errorf("%s has VNI %d, outside %d..%d", nw.Name, nw.VNI, VNIBase, VNIBase+n-1)
		}
	}
}

// A network with endpoints is refused unless forced; forced, it goes with
// its blocks and endpoints.
func TestDeleteNetworkInUse(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	nw := mustNet(t, s, "blue", "10.20.0.0/24")
	if _, err := s.ClaimBlock(ctx, "blue", "h1", nw.Subnet, 26); err != nil {
		t.Fatal(err)
	}
	ep := Endpoint{Network: "blue", ID: "c1", Host: "h1", IP: netip.MustParsePrefix("10.20.0.2/24"), MAC: "02:42:0a:14:00:02"}
	if err := s.PutEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNetwork(ctx, "blue", false); !errors.Is(err, ErrInUse) || !contains(err, "1 endpoint") {
		t.Fatalf("delete with an endpoint: %v; want ErrInUse naming 1 endpoint", err)
	}
	if err := s.DeleteNetwork(ctx, "blue", true); err != nil {
		t.Fatal(err)
	}
	resp, err := s.cli.Get(ctx, Prefix, clientPrefix()...)
	if err != nil || resp.Count != 0 {
		t.Fatalf("after a forced delete %d keys remain under %s (%v)", resp.Count, Prefix, err)
	}
	if err := s.PutEndpoint(ctx, ep); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PutEndpoint on a deleted network: %v; want ErrNotFound", err)
	}
}
