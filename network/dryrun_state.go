package network

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/plumbnet/plumb/firewall/nftables"
)

// dryState is what a dry run's script has done so far, for the run's
// later steps to read instead of the real state: each step is planned
// from what the earlier ones would have left, as a real run's would be
// (network rm A B: B is the last network once A is gone). The firewall
// keeps its own copy (iptables.NewScript), the localnet guard too (guard,
// one for the whole run), and so do a target's files (scriptFile).
type dryState struct {
	// removed holds the state paths the script removes: network
	// directories and endpoint records. Everything under one is gone.
	removed map[string]bool
	guard   *nftables.ScriptGuard
	// forward is ip_forward as the script leaves it; "" for as it is.
	forward string
	// forward6 is net.ipv6.conf.all.forwarding, likewise.
	forward6 string
	// host is host.json as the script leaves it; hostSet false: as it is.
	host    []byte
	hostSet bool
	// fwRecord is set once the script writes firewall.json.
	fwRecord bool
}

// dryGone reports whether a dry run's script removes path, or a directory
// above it in the state directory. Always false outside a dry run.
func (m *Manager) dryGone(path string) bool {
	if !m.dry() || len(m.dryst.removed) == 0 {
		return false
	}
	for p := filepath.Clean(path); strings.HasPrefix(p, m.StateDir); p = filepath.Dir(p) {
		if m.dryst.removed[p] {
			return true
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return false
}

// dryRemoved notes that the script removes path.
func (m *Manager) dryRemoved(path string) {
	if m.dryst.removed == nil {
		m.dryst.removed = map[string]bool{}
	}
	m.dryst.removed[filepath.Clean(path)] = true
}

// dryWritten notes that the script writes path (again).
func (m *Manager) dryWritten(path string) { delete(m.dryst.removed, filepath.Clean(path)) }

// ipForward is net.ipv4.ip_forward ("0", "1"), as a dry run's script
// leaves it so far.
func (m *Manager) ipForward() string {
	if m.dry() && m.dryst.forward != "" {
		return m.dryst.forward
	}
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	return strings.TrimSpace(string(b))
}

// ip6Forward is net.ipv6.conf.all.forwarding, as a dry run's script
// leaves it so far.
func (m *Manager) ip6Forward() string {
	if m.dry() && m.dryst.forward6 != "" {
		return m.dryst.forward6
	}
	b, _ := os.ReadFile("/proc/sys/net/ipv6/conf/all/forwarding")
	return strings.TrimSpace(string(b))
}

// readHostState reads host.json, as a dry run's script leaves it so far;
// nil when there is none.
func (m *Manager) readHostState() *hostState {
	b, err := os.ReadFile(m.hostStatePath())
	if m.dry() && m.dryst.hostSet {
		b, err = m.dryst.host, nil
	}
	var hs hostState
	if err != nil || b == nil || json.Unmarshal(b, &hs) != nil {
		return nil
	}
	return &hs
}

// dryHostState records writing host.json (hs nil: removing it).
func (m *Manager) dryHostState(hs *hostState) error {
	m.dryst.hostSet = true
	if hs == nil {
		m.dryst.host = nil
		m.DryRun.Cmd("rm", "-f", m.hostStatePath())
		return nil
	}
	b, err := json.Marshal(hs)
	if err != nil {
		return err
	}
	m.dryst.host = b
	return m.dryJSON(m.hostStatePath(), hs)
}
