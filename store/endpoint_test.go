package store

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func ep(net, id, host, ip, mac string, names ...string) Endpoint {
	return Endpoint{Network: net, ID: id, Host: host, IP: netip.MustParsePrefix(ip), MAC: mac, Names: names}
}

func TestEndpointRoundTrip(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	mustNet(t, s, "blue", "10.20.0.0/24")
	mustNet(t, s, "bluer", "10.21.0.0/24")
	a := ep("blue", "c1", "h1", "10.20.0.2/24", "02:42:0a:14:00:02", "web", "web.1")
	b := ep("blue", "c2", "h2", "10.20.0.66/24", "02:42:0a:14:00:42")
	other := ep("bluer", "c3", "h1", "10.21.0.2/24", "02:42:0a:15:00:02")
	for _, e := range []Endpoint{b, a, other} {
		if err := s.PutEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Endpoints(ctx, "blue")
	if err != nil || !reflect.DeepEqual(got, []Endpoint{a, b}) {
		t.Fatalf("Endpoints(blue) = %+v, %v; want c1, c2 only", got, err)
	}
	for i := 0; i < 2; i++ {
		if err := s.DeleteEndpoint(ctx, "blue", "c1"); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}
	if got, _ := s.Endpoints(ctx, "blue"); !reflect.DeepEqual(got, []Endpoint{b}) {
		t.Fatalf("after delete: %+v; want c2", got)
	}
	bad := map[string]Endpoint{
		`MAC "zz"`:            ep("blue", "c9", "h1", "10.20.0.9/24", "zz"),
		`endpoint name "a/b"`: ep("blue", "a/b", "h1", "10.20.0.9/24", "02:42:0a:14:00:09"),
		`host name ""`:        ep("blue", "c9", "", "10.20.0.9/24", "02:42:0a:14:00:09"),
	}
	for want, e := range bad {
		if err := s.PutEndpoint(ctx, e); !errors.Is(err, ErrInvalid) || !contains(err, want) {
			t.Errorf("PutEndpoint(%+v): %v; want ErrInvalid naming %s", e, err, want)
		}
	}
}

// RemoveHost takes a host's record, blocks and endpoints in every network,
// and nothing of another host's.
func TestRemoveHost(t *testing.T) {
	s := open(t)
	ctx := ctxT(t)
	blue, red := mustNet(t, s, "blue", "10.20.0.0/24"), mustNet(t, s, "red", "10.21.0.0/24")
	for _, h := range []string{"h1", "h2"} {
		m, err := s.Join(ctx, host(h, "192.0.2.1"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for _, nw := range []Network{blue, red} {
			if _, err := s.ClaimBlock(ctx, nw.Name, h, nw.Subnet, 26); err != nil {
				t.Fatal(err)
			}
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutEndpoint(ctx, ep("blue", "c1", "h1", "10.20.0.2/24", "02:42:0a:14:00:02")))
	must(s.PutEndpoint(ctx, ep("red", "c2", "h1", "10.21.0.2/24", "02:42:0a:15:00:02")))
	must(s.PutEndpoint(ctx, ep("blue", "c3", "h2", "10.20.0.66/24", "02:42:0a:14:00:42")))
	r, err := s.RemoveHost(ctx, "h1")
	if err != nil || r != (Removed{Host: true, Blocks: 2, Endpoints: 2}) {
		t.Fatalf("RemoveHost(h1) = %+v, %v; want its record, 2 blocks, 2 endpoints", r, err)
	}
	if names := hostNames(t, s); !reflect.DeepEqual(names, []string{"h2"}) {
		t.Fatalf("hosts after rm: %v; want h2", names)
	}
	for _, nw := range []string{"blue", "red"} {
		bs, _ := s.Blocks(ctx, nw)
		if len(bs) != 1 {
			t.Errorf("%s blocks after rm: %v; want h2's only", nw, bs)
		}
		for _, h := range bs {
			if h != "h2" {
				t.Errorf("%s: block of %s left", nw, h)
			}
		}
	}
	if eps, _ := s.Endpoints(ctx, "blue"); len(eps) != 1 || eps[0].ID != "c3" {
		t.Fatalf("blue endpoints after rm: %+v; want c3", eps)
	}
	if r, err := s.RemoveHost(ctx, "h1"); err != nil || r != (Removed{}) {
		t.Fatalf("second RemoveHost = %+v, %v; want nothing, no error", r, err)
	}
}
