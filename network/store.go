package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/plumbnet/plumb/internal/atomicfile"
)

// The state directory, the desired state: one directory per network, its
// config and one record per endpoint (see doc.go for the layout).

func (m *Manager) networksDir() string          { return filepath.Join(m.StateDir, "networks") }
func (m *Manager) netDir(name string) string    { return filepath.Join(m.networksDir(), name) }
func (m *Manager) endpointsDir(n string) string { return filepath.Join(m.netDir(n), "endpoints") }
func (m *Manager) endpointPath(n, id string) string {
	return filepath.Join(m.endpointsDir(n), id+".json")
}

// ValidateName checks that name can be a network name: it is used as a
// directory name and in rule comments, so 1-64 characters of [a-zA-Z0-9_.-],
// starting with a letter or digit.
func ValidateName(name string) error {
	if !validNetworkName(name) {
		return fmt.Errorf("network name %q: %w: use 1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or digit", name, ErrInvalid)
	}
	return nil
}

// Get loads the network name.
func (m *Manager) Get(name string) (*Network, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(m.netDir(name), "network.json"))
	if m.dryGone(m.netDir(name)) {
		err = fs.ErrNotExist
	}
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(m.netDir(name)); serr != nil {
			return nil, fmt.Errorf("network %q %w", name, ErrNotFound)
		}
		// Create renames a whole directory into place: one without its
		// config is damaged.
		b = nil
	} else if err != nil {
		return nil, fmt.Errorf("reading network %q: %w", name, err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil || n.Name != name || (!n.Subnet.IsValid() && !n.Subnet6.IsValid()) || !validID(n.ID) {
		return nil, fmt.Errorf("network %q: damaged config %s (remove it with `plumb network rm --force %s`)", name, filepath.Join(m.netDir(name), "network.json"), name)
	}
	return &n, nil
}

// writeNetwork writes n's config to path, atomically and synced.
func (m *Manager) writeNetwork(path string, n *Network) error {
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}

// List returns every network, sorted by name. A network whose config is
// damaged is skipped; its error is returned joined with the others, on
// one line ("; " between them); errors.Is sees each.
func (m *Manager) List() ([]*Network, error) {
	names, err := m.networkNames()
	if err != nil {
		return nil, err
	}
	var out []*Network
	var errs []error
	for _, name := range names {
		n, err := m.Get(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, n)
	}
	return out, joinLine(errs)
}

// lineErrors is errors.Join on one line: each error, "; " between them.
// errors.Is and As see every one.
type lineErrors []error

func (e lineErrors) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return b.String()
}

func (e lineErrors) Unwrap() []error { return e }

// joinLine joins errs into one error of one line; nil when there are none.
func joinLine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return lineErrors(errs)
}

func (m *Manager) networkNames() ([]string, error) {
	ents, err := os.ReadDir(m.networksDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && ValidateName(e.Name()) == nil && !m.dryGone(m.netDir(e.Name())) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Endpoint loads the record of endpoint id on netName; a missing record is
// ErrNotAttached, a damaged one errDamaged, so that callers can treat it as
// stale.
func (m *Manager) Endpoint(netName, id string) (*Endpoint, error) {
	b, err := os.ReadFile(m.endpointPath(netName, id))
	if m.dryGone(m.endpointPath(netName, id)) {
		err = fs.ErrNotExist
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotAttached
	}
	if err != nil {
		return nil, fmt.Errorf("reading endpoint %s on %q: %w", id, netName, err)
	}
	var e Endpoint
	if err := json.Unmarshal(b, &e); err != nil || e.ID != id || (!e.IP.IsValid() && !e.IP6.IsValid()) {
		return nil, errDamaged
	}
	return &e, nil
}

var errDamaged = errors.New("damaged endpoint record")

// saveEndpoint writes e's record atomically (a reader sees the old record
// or the new one, never a mix) but without an fsync: what the record
// describes, a veth pair in a namespace, does not outlive a reboot; the
// address files it goes with are not synced either; and a record lost or
// emptied by a power cut is read as damaged and cleared. The fsync was an
// eighth of an attach.
func (m *Manager) saveEndpoint(e *Endpoint) error {
	if m.dry() {
		m.dryWritten(m.endpointPath(e.Network, e.ID))
		return m.dryJSON(m.endpointPath(e.Network, e.ID), e)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Replace(m.endpointPath(e.Network, e.ID), append(b, '\n'), 0o644)
}

func (m *Manager) removeEndpoint(netName, id string) error {
	if m.dry() {
		if _, err := os.Lstat(m.endpointPath(netName, id)); err == nil && !m.dryGone(m.endpointPath(netName, id)) {
			m.DryRun.Cmd("rm", "-f", m.endpointPath(netName, id))
		}
		m.dryRemoved(m.endpointPath(netName, id))
		return nil
	}
	err := os.Remove(m.endpointPath(netName, id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing endpoint record %s: %w", id, err)
	}
	return nil
}

// Endpoints lists the endpoints of network netName, sorted by IP. Damaged
// records are skipped.
func (m *Manager) Endpoints(netName string) ([]*Endpoint, error) {
	ents, err := os.ReadDir(m.endpointsDir(netName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing endpoints of %q: %w", netName, err)
	}
	var ids []string
	for _, de := range ents {
		if id, ok := strings.CutSuffix(de.Name(), ".json"); ok && !strings.HasPrefix(id, ".") {
			ids = append(ids, id)
		}
	}
	// Reading and decoding the records is most of ps on a large network:
	// a few goroutines share it (they use every core only where the caller
	// allows it, as EndpointsHealth does).
	recs := make([]*Endpoint, len(ids))
	var wg sync.WaitGroup
	const readers = 4
	for w := range min(readers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ids); i += readers {
				recs[i], _ = m.Endpoint(netName, ids[i])
			}
		}()
	}
	wg.Wait()
	out := slices.DeleteFunc(recs, func(e *Endpoint) bool { return e == nil })
	sort.Slice(out, func(i, j int) bool { return out[i].Addr().Less(out[j].Addr()) })
	return out, nil
}

// damagedEndpoints lists the ids of netName's endpoint records that do not
// parse.
func (m *Manager) damagedEndpoints(netName string) []string {
	ents, _ := os.ReadDir(m.endpointsDir(netName))
	var out []string
	for _, de := range ents {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || strings.HasPrefix(id, ".") {
			continue
		}
		if _, err := m.Endpoint(netName, id); errors.Is(err, errDamaged) {
			out = append(out, id)
		}
	}
	return out
}

// AllEndpoints lists the endpoints of every network, or of netName only.
func (m *Manager) AllEndpoints(netName string) ([]*Endpoint, error) {
	if netName != "" {
		if _, err := m.Get(netName); err != nil {
			return nil, err
		}
		return m.Endpoints(netName)
	}
	names, err := m.networkNames()
	if err != nil {
		return nil, err
	}
	// A network whose endpoints cannot be listed (its endpoints directory
	// replaced by a file) costs its own endpoints, not everybody's:
	// `plumb doctor` reports it.
	var out []*Endpoint
	for _, n := range names {
		eps, _ := m.Endpoints(n)
		out = append(out, eps...)
	}
	return out, nil
}
