package network

import (
	"os"
	"path/filepath"

	"github.com/plumbnet/plumb/container"
)

// resolvOrigPath is where the resolv.conf a target had before plumb is
// kept, until its last endpoint goes.
func (m *Manager) resolvOrigPath(key string) string {
	return filepath.Join(m.StateDir, "targets", key+".resolv.conf")
}

// writeResolv points the target's resolv.conf at 127.0.0.11 (keeping the
// original under the state dir the first time).
func (m *Manager) writeResolv(f container.File, key string) error {
	return container.PointResolv(f, m.resolvOrigPath(key))
}

// restoreResolv puts back the resolv.conf the target had before plumb,
// once none of its endpoints is left but the one on network leaving.
// Called under the lock of network leaving, before the endpoint's record
// goes, so that a teardown interrupted here is repeated whole.
func (m *Manager) restoreResolv(f container.File, key, leaving string) error {
	if m.attachedElsewhere(key, leaving) {
		return nil
	}
	return container.RestoreResolv(f, m.resolvOrigPath(key))
}

// attachedElsewhere reports whether a target key has an endpoint record on
// a network other than leaving.
func (m *Manager) attachedElsewhere(key, leaving string) bool {
	names, _ := m.networkNames()
	for _, n := range names {
		if n == leaving {
			continue
		}
		if _, err := os.Stat(m.endpointPath(n, key)); err == nil {
			return true
		}
	}
	return false
}
