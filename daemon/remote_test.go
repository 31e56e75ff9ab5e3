package daemon

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/plumbnet/plumb/network"
)

// The names of remote endpoints (other hosts' endpoints of an overlay
// network, from the cluster agent's records) answer on the network's
// gateway listener as local names do; a sync keeps them while their
// network is there, setRemotes drops those no longer recorded, and a
// network gone takes its remote names with it.
func TestRemoteNames(t *testing.T) {
	s, _ := v6Service(t)
	n := &network.Network{Name: "ov", Driver: network.DriverOverlay,
		Subnet: netip.MustParsePrefix("127.0.0.0/8"), Gateway: netip.MustParseAddr("127.0.0.1")}
	web := network.RemoteEndpoint{ID: "h2.1", Host: "h2", IP: netip.MustParseAddr("10.20.0.66"), Names: []string{"web", "www"}}
	db := network.RemoteEndpoint{ID: "h3.2", Host: "h3", IP: netip.MustParseAddr("10.20.0.130"), Names: []string{"db"}}
	s.sync([]*network.Network{n}, nil, map[string][]network.RemoteEndpoint{"ov": {web, db}})
	answer := func(name string) string {
		r := ask(t, n.Gateway, s.gatewayPort, name, mdns.TypeA)
		if len(r.Answer) == 0 {
			return ""
		}
		return r.Answer[0].(*mdns.A).A.String()
	}
	if got := answer("www"); got != "10.20.0.66" {
		t.Fatalf("www: %q, want 10.20.0.66", got)
	}
	s.sync([]*network.Network{n}, nil, map[string][]network.RemoteEndpoint{"ov": {web, db}})
	if got := answer("db"); got != "10.20.0.130" {
		t.Fatalf("db after a second sync: %q", got)
	}
	s.setRemotes("ov", []network.RemoteEndpoint{web})
	if got := answer("db"); got != "" {
		t.Fatalf("db after its record went: %q", got)
	}
	if got := answer("web"); got != "10.20.0.66" {
		t.Fatalf("web after db went: %q", got)
	}
	if recs := s.records("ov"); len(recs) != 2 || recs[0].Endpoint != "remote/h2/1" {
		t.Fatalf("records: %+v", recs)
	}
	s.sync(nil, nil, nil)
	if recs := s.records(""); len(recs) != 0 {
		t.Fatalf("records after the network went: %+v", recs)
	}
}
