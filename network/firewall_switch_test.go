package network

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/plumbnet/plumb/firewall"
)

// deleteWatch is a backend that calls before ahead of each DeleteNetwork.
type deleteWatch struct {
	firewall.Firewall
	before func(name string)
}

func (d deleteWatch) DeleteNetwork(name string) error {
	d.before(name)
	return d.Firewall.DeleteNetwork(name)
}

// switchWorld is a world whose Manager makes its firewall by backend name,
// two fakes (the iptables one is also the guard), with networks n1 and n2
// on iptables and endpoint web publishing 8080 on n1.
func switchWorld(t *testing.T) (w *world, ipt, nft *firewall.Fake, ep *Endpoint) {
	t.Helper()
	w = newWorld(t)
	ipt, nft = w.fw, firewall.NewFake()
	backends := map[string]firewall.Firewall{FirewallIptables: ipt, FirewallNftables: nft}
	w.m.Firewall, w.m.Guard, w.m.FirewallChoice = nil, ipt, FirewallIptables
	w.m.FirewallOf = func(kind string) (firewall.Firewall, error) { return backends[kind], nil }
	if _, err := w.m.Create(createOpts()); err != nil {
		t.Fatal(err)
	}
	o2 := createOpts()
	o2.Name, o2.Subnet = "n2", netip.MustParsePrefix("10.99.2.0/24")
	if _, err := w.m.Create(o2); err != nil {
		t.Fatal(err)
	}
	w.target("web", 9)
	o := attachOpts()
	o.Links = nil
	ep, _, err := w.m.Attach(context.Background(), "web", o)
	if err != nil {
		t.Fatal(err)
	}
	if got := ipt.Ports("n1", ep.ID); len(got) != 1 {
		t.Fatalf("before the switch iptables publishes %v, want port 8080", got)
	}
	return w, ipt, nft, ep
}

// TestSwitchFirewallKeepsPorts: switching from iptables to nftables writes
// every network and published port on nftables before it deletes any from
// iptables, records nftables, and every Manager then uses it.
func TestSwitchFirewallKeepsPorts(t *testing.T) {
	w, ipt, nft, ep := switchWorld(t)
	backends := map[string]firewall.Firewall{
		FirewallIptables: deleteWatch{ipt, func(name string) {
			if name == "n1" && len(nft.Ports("n1", ep.ID)) != 1 {
				t.Errorf("iptables deletes network n1 while nftables publishes %v: port 8080 is lost meanwhile", nft.Ports("n1", ep.ID))
			}
		}},
		FirewallNftables: nft,
	}
	w.m.FirewallOf = func(kind string) (firewall.Firewall, error) { return backends[kind], nil }
	sw, err := w.m.SwitchFirewall(FirewallNftables)
	if err != nil {
		t.Fatal(err)
	}
	if !sw.Moved() || sw.Networks != 2 || sw.Endpoints != 1 || sw.String() != "moved 2 networks and the published ports of 1 endpoint from iptables to nftables" {
		t.Errorf("switch = %+v (%s)", sw, sw)
	}
	if got := nft.Networks(); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("nftables holds networks %v, want n1 n2", got)
	}
	if got := nft.Ports("n1", ep.ID); len(got) != 1 || got[0].HostPort != 8080 {
		t.Errorf("nftables publishes %v, want 8080", got)
	}
	if got := ipt.Networks(); len(got) != 0 {
		t.Errorf("iptables still holds networks %v", got)
	}
	if got, _ := w.m.FirewallBackend(); got != FirewallNftables {
		t.Errorf("FirewallBackend = %q after the switch", got)
	}
	// Another process (the daemon, the CNI plugin) follows the record
	// whatever it was told.
	other := &Manager{StateDir: w.m.StateDir, Links: w.links, Guard: ipt, Daemon: w.d, Targets: w.targets,
		FirewallChoice: FirewallIptables, FirewallOf: w.m.FirewallOf}
	if fw, err := other.fw(); err != nil || fw != backends[FirewallNftables] {
		t.Errorf("another Manager's firewall = %v, %v; want the nftables one", fw, err)
	}
	// Switching again to the same backend moves nothing.
	if sw, err := w.m.SwitchFirewall(FirewallNftables); err != nil || sw.Moved() {
		t.Errorf("second switch = %+v, %v; want nothing moved", sw, err)
	}
	if _, err := w.m.Detach(context.Background(), "web", "n1"); err != nil {
		t.Fatal(err)
	}
	if got := nft.Ports("n1", ep.ID); len(got) != 0 {
		t.Errorf("after detach nftables still publishes %v", got)
	}
}

// TestSwitchFirewallFailureChangesNothing: when the new backend refuses
// the rules, what it wrote is deleted, the old backend keeps everything
// and the record is unchanged.
func TestSwitchFirewallFailureChangesNothing(t *testing.T) {
	w, ipt, nft, ep := switchWorld(t)
	nft.FailNext("EnsureAll", errors.New("no nf_tables"))
	if _, err := w.m.SwitchFirewall(FirewallNftables); err == nil {
		t.Fatal("the switch succeeded with a failing nftables")
	}
	if got, _ := w.m.FirewallBackend(); got != FirewallIptables {
		t.Errorf("FirewallBackend = %q after a failed switch, want iptables", got)
	}
	if got := ipt.Ports("n1", ep.ID); len(got) != 1 {
		t.Errorf("iptables publishes %v after a failed switch", got)
	}
	if got := nft.Networks(); len(got) != 0 {
		t.Errorf("nftables holds %v after a failed switch", got)
	}
}

// TestFirewallChoice: the values --firewall takes, the backend of a host
// with networks made before the record existed, and a bad record.
func TestFirewallChoice(t *testing.T) {
	for _, s := range []string{"", "auto", "iptables", "nftables"} {
		if err := CheckFirewallChoice(s); err != nil {
			t.Errorf("CheckFirewallChoice(%q) = %v", s, err)
		}
	}
	if err := CheckFirewallChoice("ipchains"); err == nil || !errors.Is(err, ErrInvalid) {
		t.Errorf("CheckFirewallChoice(ipchains) = %v, want ErrInvalid", err)
	}
	w := newWorld(t)
	w.m.Firewall, w.m.Guard = nil, w.fw
	w.m.FirewallOf = func(string) (firewall.Firewall, error) { return w.fw, nil }
	w.m.FirewallChoice = FirewallIptables
	if _, err := w.m.Create(createOpts()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(w.m.FirewallRecordPath()); err != nil { // a host from before the choice
		t.Fatal(err)
	}
	w.m.FirewallChoice = FirewallNftables
	if got, _ := w.m.FirewallBackend(); got != FirewallIptables {
		t.Errorf("networks without a record: FirewallBackend = %q, want iptables", got)
	}
	writeRaw(t, w.m.FirewallRecordPath(), `{"backend": "ipchains"}`)
	if _, err := w.m.FirewallBackend(); err == nil {
		t.Error("a record naming no backend was taken")
	}
}

// With no choice made, a host without the iptables command gets nftables;
// one with it keeps iptables.
func TestDefaultFirewallFollowsTheIptablesCommand(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	if got := DefaultFirewall(); got != FirewallNftables {
		t.Errorf("without iptables on PATH: %s, want nftables", got)
	}
	if err := os.WriteFile(filepath.Join(bin, "iptables"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := DefaultFirewall(); got != FirewallIptables {
		t.Errorf("with iptables on PATH: %s, want iptables", got)
	}
}

// The record of the backend lives as long as a network does: the first
// create writes it, a create that fails takes it back, and removing the
// last network removes it, so the state directory is left as it was.
func TestFirewallRecordLivesWithTheNetworks(t *testing.T) {
	w := newWorld(t)
	w.m.Firewall, w.m.Guard = nil, w.fw
	w.m.FirewallOf = func(string) (firewall.Firewall, error) { return w.fw, nil }
	w.m.FirewallChoice = FirewallNftables
	exists := func() bool {
		_, err := os.Stat(w.m.FirewallRecordPath())
		return err == nil
	}
	failAt(w.m, StepNames("create")[len(StepNames("create"))-1])
	if _, err := w.m.Create(createOpts()); err == nil {
		t.Fatal("create with an injected failure succeeded")
	}
	if exists() {
		t.Error("a failed first create left the firewall record")
	}
	w.m.Fault = nil
	if _, err := w.m.Create(createOpts()); err != nil {
		t.Fatal(err)
	}
	if got, err := w.m.RecordedFirewall(); got != FirewallNftables {
		t.Errorf("after the first create the record is %q (%v), want nftables", got, err)
	}
	if err := w.m.Remove(context.Background(), createOpts().Name, false); err != nil {
		t.Fatal(err)
	}
	if exists() {
		t.Error("removing the last network left the firewall record")
	}
}
