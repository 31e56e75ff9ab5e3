package network

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestHealthReadsTheKernel: each thing that can go missing or down under
// an attached endpoint shows in its state, and the state is up again when
// it is back.
func TestHealthReadsTheKernel(t *testing.T) {
	w := attachWorld(t)
	o := attachOpts()
	o.Links = nil
	ep, _, err := w.m.Attach(context.Background(), "web", o)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := w.m.Get("n1")
	state := func() Health { return w.m.Health([]*Endpoint{ep})[0] }
	if h := state(); h.State != StateUp {
		t.Fatalf("fresh endpoint: %+v", h)
	}
	ns := w.links.nss[ep.NetNS]
	cases := []struct {
		name, state, reason string
		breakIt, mend       func()
	}{
		{"veth down", StateDown, "veth", func() { w.links.veths[ep.HostVeth].up = false }, func() { w.links.veths[ep.HostVeth].up = true }},
		{"address gone", StateBroken, "address " + ep.IP.String(), func() { delete(ns.addrs, ep.IfName) }, func() { ns.addrs[ep.IfName] = ep.IP }},
		{"route gone", StateBroken, "default route", func() { delete(ns.routes, ep.IfName) }, func() { ns.routes[ep.IfName] = n.Gateway }},
		{"port rules gone", StateBroken, "published port rules", func() { w.fw.DeletePorts("n1", ep.ID) }, func() { w.fw.AddPorts(n.firewall(), ep.ID, firewallPorts(ep)) }},
		{"network rules gone", StateBroken, "rules of network n1", func() { w.fw.DeleteNetwork("n1") }, func() { w.fw.EnsureNetwork(n.firewall()); w.fw.AddPorts(n.firewall(), ep.ID, firewallPorts(ep)) }},
		{"listener gone", StateBroken, "127.0.0.11 listener", func() { w.d.Down("n1", ep.ID) }, func() { w.d.Up("n1", ep.ID) }},
		{"bridge gone", StateBroken, "bridge " + n.Bridge, func() { delete(w.links.bridges, n.Bridge) }, func() { w.links.bridges[n.Bridge] = n.bridgeConfig() }},
	}
	for _, c := range cases {
		c.breakIt()
		if h := state(); h.State != c.state || !strings.Contains(h.Reason, c.reason) {
			t.Errorf("%s: %+v, want %s naming %q", c.name, h, c.state, c.reason)
		}
		c.mend()
		if h := state(); h.State != StateUp {
			t.Fatalf("%s mended: %+v", c.name, h)
		}
	}
	// The namespace goes: stale, whatever else is missing.
	delete(w.links.nss, ep.NetNS)
	os.Remove(ep.NetNS)
	if h := state(); h.State != StateStale {
		t.Fatalf("namespace gone: %+v", h)
	}
}
