package network

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	if m.dry() {
		return m.dryPointResolv(f, key)
	}
	return container.PointResolv(f, m.resolvOrigPath(key))
}

// restoreResolv puts back the resolv.conf the target had before plumb,
// once none of its endpoints is left but the one on network leaving.
// Called under the lock of network leaving, before the endpoint's record
// goes, so that a teardown interrupted here is repeated whole.
//
// A netns target's file with no kept original (an attach killed after it
// pointed the file and before it kept the original), or an empty one (an
// attach killed while it wrote it: os.WriteFile truncates first), was made
// by plumb from the host's: it goes when it still points at 127.0.0.11,
// and otherwise when it adds nothing to the host's (container.Tidy), so
// that /etc/netns/NAME is left as it was before the attach.
func (m *Manager) restoreResolv(f container.File, key, leaving string) error {
	if m.attachedElsewhere(key, leaving) {
		return nil
	}
	if m.dry() {
		return m.dryRestoreResolv(f, key)
	}
	save := m.resolvOrigPath(key)
	if st, err := os.Stat(save); (err != nil || st.Size() == 0) && strings.HasPrefix(f.Path(), container.NetnsEtcDir+"/") {
		if err := os.Remove(save); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if pointed, err := container.Pointed(f); err != nil || !pointed {
			return container.Tidy(f)
		}
		return f.Remove()
	}
	return container.RestoreResolv(f, save)
}

// attachedElsewhere reports whether a target key has an endpoint record on
// a network other than leaving.
func (m *Manager) attachedElsewhere(key, leaving string) bool {
	names, _ := m.networkNames()
	for _, n := range names {
		if n == leaving {
			continue
		}
		if _, err := os.Stat(m.endpointPath(n, key)); err == nil && !m.dryGone(m.endpointPath(n, key)) {
			return true
		}
	}
	return false
}
