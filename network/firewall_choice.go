package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/firewall/nftables"
	"github.com/plumbnet/plumb/internal/atomicfile"
)

// The firewall backends plumb writes its rules with (--firewall,
// $PLUMB_FIREWALL, Manager.FirewallChoice).
const (
	FirewallIptables = "iptables"
	FirewallNftables = "nftables"
	// FirewallAuto picks a backend when the host has none recorded:
	// nftables when nf_tables works and no iptables-legacy rules are in
	// use, else iptables. It never moves existing networks.
	FirewallAuto = "auto"
)

// DefaultFirewall is the backend of a host without networks when nothing
// is asked (no --firewall, $PLUMB_FIREWALL or CNI "firewall"): iptables
// where the iptables command is installed, as before plumb had a choice
// (an upgrade or a script that names no backend keeps what it had, and
// Docker's own rules are iptables' there); nftables on a host without it,
// as Debian 13, RHEL 10 and Fedora are by default. nftables is also asked
// for by name, or by auto.
func DefaultFirewall() string {
	if _, err := exec.LookPath("iptables"); err != nil {
		return FirewallNftables
	}
	return FirewallIptables
}

// CheckFirewallChoice reports whether s is a --firewall value: nftables,
// iptables, auto, or empty (auto).
func CheckFirewallChoice(s string) error {
	switch s {
	case "", FirewallAuto, FirewallIptables, FirewallNftables:
		return nil
	}
	return fmt.Errorf("firewall %q: %w: want nftables, iptables or auto", s, ErrInvalid)
}

// firewallRecord is STATEDIR/firewall.json: the backend the host's
// networks use, which every plumb process of the state directory (CLI,
// daemon, CNI plugin) follows.
type firewallRecord struct {
	Backend string `json:"backend"`
}

// FirewallRecordPath is the file that records the backend the host's
// networks use.
func (m *Manager) FirewallRecordPath() string { return filepath.Join(m.StateDir, "firewall.json") }

// RecordedFirewall returns the backend recorded in the state directory,
// "" when none is. A record plumb cannot read or does not know is an error.
func (m *Manager) RecordedFirewall() (string, error) {
	b, err := os.ReadFile(m.FirewallRecordPath())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the firewall backend: %w", err)
	}
	var r firewallRecord
	if err := json.Unmarshal(b, &r); err != nil || (r.Backend != FirewallIptables && r.Backend != FirewallNftables) {
		return "", fmt.Errorf("%s: want {\"backend\": \"nftables\"} or \"iptables\", found %q", m.FirewallRecordPath(), b)
	}
	return r.Backend, nil
}

// writeFirewallRecord records backend as the one the host's networks use.
// Equivalent to: `echo '{"backend": "nftables"}' >STATEDIR/firewall.json`
// (indented as a dry run prints it).
func (m *Manager) writeFirewallRecord(backend string) error {
	b, _ := json.MarshalIndent(firewallRecord{Backend: backend}, "", "  ")
	if err := atomicfile.WriteFile(m.FirewallRecordPath(), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("recording the firewall backend: %w", err)
	}
	return nil
}

// FirewallBackend names the backend the host's networks use, and so the
// one this Manager writes with: the one recorded in the state directory;
// without a record, iptables when networks exist (made before plumb had a
// choice, they are in iptables), else the Manager's FirewallChoice (empty:
// DefaultFirewall), auto deciding by DetectFirewall. A firewall given in Manager.Firewall names
// itself.
func (m *Manager) FirewallBackend() (string, error) {
	if fw := m.givenFirewall(); fw != nil {
		return fw.Backend(), nil
	}
	return m.chosenBackend()
}

// chosenBackend is FirewallBackend without a given firewall.
func (m *Manager) chosenBackend() (string, error) {
	rec, err := m.RecordedFirewall()
	if err != nil || rec != "" {
		return rec, err
	}
	if names, _ := m.networkNames(); len(names) > 0 {
		return FirewallIptables, nil
	}
	choice := m.FirewallChoice
	if choice == "" {
		choice = DefaultFirewall()
	}
	if choice == FirewallIptables || choice == FirewallNftables {
		return choice, nil
	}
	m.detectOnce.Do(func() { m.detected, _ = DetectFirewall() })
	return m.detected, nil
}

// DetectFirewall is auto's choice for this host, and why: nftables when
// nf_tables works here (nftables.Available) and iptables-legacy holds no
// rules (the check of `plumb doctor`'s iptables-split: legacy rules would
// apply beside plumb's table out of its sight), else iptables.
// Equivalent to: `nft list tables && iptables-legacy-save`.
func DetectFirewall() (backend, why string) {
	if err := nftables.Available(); err != nil {
		return FirewallIptables, "nftables is not available: " + err.Error()
	}
	if facts, err := iptables.Inspect(); err == nil {
		for _, b := range facts.Backends {
			if b.Backend == iptables.BackendLegacy && b.Holds() {
				return FirewallIptables, "iptables-legacy holds rules (" + b.Save + ")"
			}
		}
	}
	return FirewallNftables, "nf_tables works and iptables-legacy holds no rules"
}

// newFirewall makes the backend named kind: the real one, or in a dry run
// the one that writes a script.
func (m *Manager) newFirewall(kind string) (firewall.Firewall, error) {
	switch {
	case m.FirewallOf != nil && !m.dry():
		return m.FirewallOf(kind)
	case kind == FirewallNftables && m.dry():
		return nftables.NewScript(m.DryRun)
	case kind == FirewallNftables:
		return nftables.NewFirewall(m.firewallLock())
	case m.dry():
		return iptables.NewScript(m.DryRun)
	default:
		return iptables.New(m.firewallLock())
	}
}

// givenFirewall is the firewall set in Manager.Firewall by the caller (a
// test's fake), nil when the Manager makes its own. A dry run makes its
// own whatever it was given.
func (m *Manager) givenFirewall() firewall.Firewall {
	m.fwMu.Lock()
	defer m.fwMu.Unlock()
	if m.fwKind != "" || m.dry() {
		return nil
	}
	return m.Firewall
}

// ensureFirewallRecord records the backend the networks use when nothing
// is recorded yet, so that auto decides once for the host: called by
// Create under the global lock, before the first network's rules. It
// reports whether it wrote the record, for Create to take it back when
// the network is not made. The record lives as long as a network does
// (removeFirewallRecord).
func (m *Manager) ensureFirewallRecord() (bool, error) {
	if m.givenFirewall() != nil && !m.dry() {
		return false, nil
	}
	if m.dry() && m.dryst.fwRecord {
		return false, nil
	}
	rec, err := m.RecordedFirewall()
	if err != nil || (rec != "" && !m.dryGone(m.FirewallRecordPath())) {
		return false, err
	}
	kind, err := m.chosenBackend()
	if err != nil {
		return false, err
	}
	if m.dry() {
		m.dryst.fwRecord = true
		m.dryWritten(m.FirewallRecordPath())
		return true, m.dryJSON(m.FirewallRecordPath(), firewallRecord{Backend: kind})
	}
	return true, m.writeFirewallRecord(kind)
}

// removeFirewallRecord removes the record of the backend once no network
// is left, so that `network rm` of the last network leaves the state
// directory as it found it: the next first network chooses again.
// Equivalent to: `rm -f STATEDIR/firewall.json`.
func (m *Manager) removeFirewallRecord() error {
	if m.dry() {
		if _, err := os.Stat(m.FirewallRecordPath()); err == nil || m.dryst.fwRecord {
			m.DryRun.Cmd("rm", "-f", m.FirewallRecordPath())
			m.dryRemoved(m.FirewallRecordPath())
			m.dryst.fwRecord = false
		}
		return nil
	}
	if err := os.Remove(m.FirewallRecordPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the firewall backend record: %w", err)
	}
	return nil
}

// FirewallSnapshot reads the rules of the backend in use once and answers
// checks of networks and endpoints from that reading (Firewall.Snapshot):
// for explain and inspect. It changes nothing.
func (m *Manager) FirewallSnapshot() (firewall.Checker, error) { return m.snapshot() }
