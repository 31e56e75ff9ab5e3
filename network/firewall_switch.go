package network

import (
	"errors"
	"fmt"

	"github.com/plumbnet/plumb/firewall"
)

// FirewallSwitch is what SwitchFirewall did: the backend the networks used
// and the one they use now, and how much it moved.
type FirewallSwitch struct {
	From, To  string
	Networks  int // networks whose rules moved
	Endpoints int // endpoints whose published ports moved
}

// Moved reports whether the switch moved any rule.
func (s FirewallSwitch) Moved() bool { return s.From != s.To && s.Networks > 0 }

// String is the one line a person reads: "moved 2 networks and the
// published ports of 3 endpoints from iptables to nftables".
func (s FirewallSwitch) String() string {
	return fmt.Sprintf("moved %s and the published ports of %s from %s to %s",
		count(s.Networks, "network"), count(s.Endpoints, "endpoint"), s.From, s.To)
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// SwitchFirewall makes choice the backend the host's networks use. A
// named backend (iptables, nftables) other than the one in use gets every
// network's rules and every live endpoint's published ports first
// (EnsureAll on it, one write), then they are deleted from the old one
// (DeleteNetwork of each), and it is recorded: at every moment one backend
// or both hold every published port, so none stops answering (connections
// already made keep their conntrack entry and its NAT). It holds the
// global lock and every network's lock throughout, as RestoreRules does:
// no create, rm, attach or detach lands in between. When the new backend
// fails, what it wrote is deleted again and nothing changes. "" and auto
// move nothing: auto decides only for a host without networks. A switch
// with no network only records the choice.
// Equivalent to: `plumb network create` of each network's rules on the new
// backend, `plumb network rm`'s rule removal on the old.
func (m *Manager) SwitchFirewall(choice string) (FirewallSwitch, error) {
	if err := CheckFirewallChoice(choice); err != nil {
		return FirewallSwitch{}, err
	}
	if choice == "" || choice == FirewallAuto || m.givenFirewall() != nil || m.dry() {
		return FirewallSwitch{}, nil
	}
	if rec, err := m.RecordedFirewall(); err == nil && rec == choice {
		return FirewallSwitch{From: rec, To: choice}, nil // the common case: no lock
	}
	glock, err := m.lockGlobal()
	if err != nil {
		return FirewallSwitch{}, err
	}
	defer glock.Unlock()
	from, err := m.chosenBackend()
	if err != nil {
		return FirewallSwitch{}, err
	}
	sw := FirewallSwitch{From: from, To: choice}
	var nets []firewall.Network
	if from != choice {
		var pubs []firewall.Published
		var unlock func()
		_, nets, pubs, unlock = m.lockRules()
		defer unlock()
		sw.Networks, sw.Endpoints = len(nets), len(pubs)
		if err := m.moveRules(from, choice, nets, pubs); err != nil {
			return FirewallSwitch{From: from, To: from}, err
		}
	}
	if err := m.writeFirewallRecord(choice); err != nil {
		return sw, err
	}
	if from == choice {
		return sw, nil
	}
	return sw, m.deleteOld(from, choice, nets)
}

// moveRules writes nets and pubs with backend to, all of them in one
// EnsureAll. On failure it deletes from to what it wrote.
func (m *Manager) moveRules(from, to string, nets []firewall.Network, pubs []firewall.Published) error {
	if len(nets) == 0 {
		return nil
	}
	fw, err := m.newFirewall(to)
	if err != nil {
		return fmt.Errorf("switching the firewall from %s to %s: %w", from, to, err)
	}
	if _, err := fw.EnsureAll(nets, pubs); err != nil {
		errs := []error{fmt.Errorf("switching the firewall from %s to %s: %w", from, to, err)}
		for _, n := range nets {
			if err := fw.DeleteNetwork(n.Name); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	m.fwMu.Lock()
	m.Firewall, m.fwKind = fw, to
	m.fwMu.Unlock()
	return nil
}

// deleteOld deletes from backend from the rules of the networks
// moveRules moved. The new backend holds them all by then: a failure
// leaves rules behind, reported, and loses nothing.
func (m *Manager) deleteOld(from, to string, nets []firewall.Network) error {
	if len(nets) == 0 {
		return nil
	}
	old, err := m.newFirewall(from)
	if err != nil {
		return fmt.Errorf("deleting plumb's rules from %s after the switch to %s: %w", from, to, err)
	}
	var errs []error
	for _, n := range nets {
		if err := old.DeleteNetwork(n.Name); err != nil {
			errs = append(errs, fmt.Errorf("deleting network %q's rules from %s after the switch to %s: %w", n.Name, from, to, err))
		}
	}
	return errors.Join(errs...)
}
