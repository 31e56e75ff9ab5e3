package network

import (
	"path/filepath"
	"testing"
)

// Two plumb instances with their own run dirs (say, each in its own network
// namespace, with its own firewall) must not share a firewall lock, on
// either backend.
func TestFirewallLockFollowsRunDir(t *testing.T) {
	for _, backend := range []string{FirewallIptables, FirewallNftables} {
		t.Run(backend, func(t *testing.T) {
			lockOf := func(m *Manager) string {
				t.Helper()
				fw, err := m.fw()
				if err != nil {
					t.Skipf("no %s here: %v", backend, err)
				}
				if fw.Backend() != backend {
					t.Fatalf("firewall is %s, want %s", fw.Backend(), backend)
				}
				l, ok := fw.(interface{ LockPath() string })
				if !ok {
					t.Fatalf("firewall %T has no LockPath", fw)
				}
				return l.LockPath()
			}
			runA, runB := t.TempDir(), t.TempDir()
			a := &Manager{StateDir: t.TempDir(), RunDir: runA, FirewallChoice: backend}
			b := &Manager{StateDir: t.TempDir(), RunDir: runB, FirewallChoice: backend}
			if got, want := lockOf(a), filepath.Join(runA, "firewall.lock"); got != want {
				t.Errorf("lock of a Manager with run dir %s: %s, want %s", runA, got, want)
			}
			if got, want := lockOf(b), filepath.Join(runB, "firewall.lock"); got != want {
				t.Errorf("lock of a Manager with run dir %s: %s, want %s", runB, got, want)
			}
		})
	}
}
