package network

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countingDaemon counts the Remotes notifications.
type countingDaemon struct {
	*fakeDaemon
	told []string
}

func (d *countingDaemon) Remotes(n string) error { d.told = append(d.told, n); return nil }

// TestSetRemotes: SetRemotes writes exactly the records given, removes the
// others, tells the daemon only when something changed, and refuses a bad
// id in one line; Remotes reads them back sorted, skipping damaged ones.
func TestSetRemotes(t *testing.T) {
	d := &countingDaemon{fakeDaemon: newFakeDaemon(newFakeLinks())}
	m := &Manager{StateDir: t.TempDir(), Daemon: d}
	n := &Network{Name: "ov", ID: strings.Repeat("a", 64), Driver: DriverOverlay, Subnet: netip.MustParsePrefix("10.20.0.0/24")}
	if err := os.MkdirAll(m.netDir(n.Name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.writeNetwork(filepath.Join(m.netDir(n.Name), "network.json"), n); err != nil {
		t.Fatal(err)
	}
	a := RemoteEndpoint{ID: "h2.1", Host: "h2", IP: netip.MustParseAddr("10.20.0.66"), Names: []string{"web"}}
	b := RemoteEndpoint{ID: "h3.2", Host: "h3", IP: netip.MustParseAddr("10.20.0.130"), Names: []string{"db"}}
	if err := m.SetRemotes("ov", []RemoteEndpoint{b, a}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Remotes("ov")
	if err != nil || len(got) != 2 || got[0].ID != "h2.1" || got[1].Names[0] != "db" {
		t.Fatalf("Remotes: %+v, %v", got, err)
	}
	if err := m.SetRemotes("ov", []RemoteEndpoint{a, b}); err != nil || len(d.told) != 1 {
		t.Fatalf("unchanged: %v, told %v", err, d.told)
	}
	writeRaw(t, filepath.Join(m.remoteDir("ov"), "bad.json"), "{")
	if err := m.SetRemotes("ov", []RemoteEndpoint{a}); err != nil || len(d.told) != 2 {
		t.Fatalf("drop one: %v, told %v", err, d.told)
	}
	if got, _ := m.Remotes("ov"); len(got) != 1 || got[0].ID != "h2.1" {
		t.Fatalf("after dropping h3.2: %+v", got)
	}
	err = m.SetRemotes("ov", []RemoteEndpoint{{ID: "../x", IP: a.IP}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "../x") {
		t.Fatalf("bad id: %v", err)
	}
	if err := m.SetRemotes("nope", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no such network: %v", err)
	}
}
