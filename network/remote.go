package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plumbnet/plumb/internal/atomicfile"
)

// RemoteEndpoint is an endpoint of an overlay network on another host of
// the cluster, as the cluster agent (plumb-cluster) writes it into this
// host's state directory for the daemon's name service:
// networks/NAME/remote/ID.json. The local commands never attach or detach
// it; only the agent writes and removes these records.
type RemoteEndpoint struct {
	ID    string     `json:"id"`   // the store's endpoint id, "<host>.<local id>"
	Host  string     `json:"host"` // the host it is on
	IP    netip.Addr `json:"ip"`
	MAC   string     `json:"mac,omitempty"`
	Names []string   `json:"names"`
}

func (m *Manager) remoteDir(n string) string { return filepath.Join(m.netDir(n), "remote") }

// validRemoteID: a remote record's id is a file name.
func validRemoteID(id string) bool {
	return id != "" && len(id) <= 200 && !strings.HasPrefix(id, ".") && !strings.ContainsAny(id, "/\x00")
}

// Remotes lists the remote endpoint records of netName, sorted by id; a
// network without any has none (nil, nil). Damaged records are skipped.
func (m *Manager) Remotes(netName string) ([]RemoteEndpoint, error) {
	if err := ValidateName(netName); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(m.remoteDir(netName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing remote endpoints of %q: %w", netName, err)
	}
	var out []RemoteEndpoint
	for _, de := range ents {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || !validRemoteID(id) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.remoteDir(netName), de.Name()))
		var r RemoteEndpoint
		if err != nil || json.Unmarshal(b, &r) != nil || r.ID != id || !r.IP.IsValid() {
			continue
		}
		out = append(out, r)
	}
	return out, nil // ReadDir sorts by file name: by id
}

// SetRemotes makes the remote endpoint records of the existing network
// netName exactly recs: it writes the new and changed ones (atomically),
// removes the others, and, when anything changed, tells the running daemon
// to serve them (it does not start one: a daemon reads them when it
// starts). Equivalent to writing networks/NAME/remote/ID.json per record
// and `rm` of the rest.
func (m *Manager) SetRemotes(netName string, recs []RemoteEndpoint) error {
	if _, err := m.Get(netName); err != nil {
		return err
	}
	have, err := m.Remotes(netName)
	if err != nil {
		return err
	}
	old := map[string]RemoteEndpoint{}
	for _, r := range have {
		old[r.ID] = r
	}
	// Mkdir, not MkdirAll: a network removed meanwhile is not made again
	// as a directory without its config.
	if err := os.Mkdir(m.remoteDir(netName), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("remote endpoints of %q: %w", netName, err)
	}
	changed := false
	want := map[string]bool{}
	for _, r := range recs {
		if !validRemoteID(r.ID) || !r.IP.IsValid() {
			return fmt.Errorf("remote endpoint %q of %q: %w: bad id or no address", r.ID, netName, ErrInvalid)
		}
		want[r.ID] = true
		if o, ok := old[r.ID]; ok && sameRemote(o, r) {
			continue
		}
		b, _ := json.Marshal(r)
		if err := atomicfile.Replace(filepath.Join(m.remoteDir(netName), r.ID+".json"), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("remote endpoint %s of %q: %w", r.ID, netName, err)
		}
		changed = true
	}
	for id := range old {
		if want[id] {
			continue
		}
		if err := os.Remove(filepath.Join(m.remoteDir(netName), id+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remote endpoint %s of %q: %w", id, netName, err)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	return m.daemon().Remotes(netName)
}

func sameRemote(x, y RemoteEndpoint) bool {
	return x.Host == y.Host && x.IP == y.IP && x.MAC == y.MAC && slices.Equal(x.Names, y.Names)
}
