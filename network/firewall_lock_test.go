package network

import (
	"path/filepath"
	"testing"

	"github.com/plumbnet/plumb/firewall/iptables"
)

// Two plumb instances with their own run dirs (say, each in its own network
// namespace, with its own firewall) must not share a firewall lock.
func TestFirewallLockFollowsRunDir(t *testing.T) {
	lockOf := func(m *Manager) string {
		t.Helper()
		fw, err := m.fw()
		if err != nil {
			t.Skipf("no iptables here: %v", err)
		}
		ipt, ok := fw.(*iptables.Firewall)
		if !ok {
			t.Fatalf("firewall is %T, want *iptables.Firewall", fw)
		}
		return ipt.LockPath()
	}
	runA, runB := t.TempDir(), t.TempDir()
	a := &Manager{StateDir: t.TempDir(), RunDir: runA}
	b := &Manager{StateDir: t.TempDir(), RunDir: runB}
	if got, want := lockOf(a), filepath.Join(runA, "firewall.lock"); got != want {
		t.Errorf("lock of a Manager with run dir %s: %s, want %s", runA, got, want)
	}
	if got, want := lockOf(b), filepath.Join(runB, "firewall.lock"); got != want {
		t.Errorf("lock of a Manager with run dir %s: %s, want %s", runB, got, want)
	}
}
