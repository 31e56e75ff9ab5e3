package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/plumbnet/plumb/veth"
)

// records lists the endpoint records of every network, by network, or
// fails when any network's cannot be listed (its endpoints directory, or
// the networks directory, unreadable or not a directory): what no record
// owns is then unknown, and a leak check that went on would call live
// endpoints' links, rules and files leaks, for doctor --fix to delete.
func (m *Manager) records() (map[string][]*Endpoint, error) {
	names, err := m.networkNames()
	if err != nil {
		return nil, err
	}
	out := map[string][]*Endpoint{}
	for _, name := range names {
		eps, err := m.Endpoints(name)
		if err != nil {
			return nil, err
		}
		out[name] = eps
	}
	return out, nil
}

// StrayLinks lists the host's links plumb made and no record owns: veths
// named like plumb's host ends (HostVethName) that no endpoint of any
// network has, and retired pairs (veth.RetiredPrefix) the daemon did not
// delete. It fails when the records cannot all be read (records).
// Equivalent to: `ip -o link` and reading it.
func (m *Manager) StrayLinks() ([]string, error) {
	host, err := m.links().HostLinks()
	if err != nil {
		return nil, err
	}
	recs, err := m.records()
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	for name, eps := range recs {
		n, err := m.Get(name)
		for _, ep := range eps {
			owned[ep.HostVeth] = true
			if err == nil {
				owned[HostVethName(n, ep.ID)] = true
			}
		}
		for _, id := range m.damagedEndpoints(name) {
			if err == nil {
				owned[HostVethName(n, id)] = true
			}
		}
	}
	var out []string
	for name, l := range host {
		if !l.Veth || owned[name] {
			continue
		}
		if isHostVethName(name) || name == veth.RetiredName(l.Index) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DeleteLinks deletes the veths named (`ip link del NAME`), each only if
// it is still a veth; gone is success.
func (m *Manager) DeleteLinks(names []string) error {
	var errs []error
	for _, name := range names {
		errs = append(errs, m.links().DeleteVeth(name))
	}
	return errors.Join(errs...)
}

// StrayPortRules lists, by network, the owners of published-port rules
// that no endpoint record has: rules a killed detach or attach left. It
// fails when the records cannot all be read (records).
func (m *Manager) StrayPortRules() (map[string][]string, error) {
	fw, err := m.fw()
	if err != nil {
		return nil, err
	}
	c, err := fw.Snapshot()
	if err != nil {
		return nil, err
	}
	recs, err := m.records()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for netName, owners := range c.PortOwners() {
		eps := recs[netName]
		for _, owner := range owners {
			if !slices.ContainsFunc(eps, func(ep *Endpoint) bool { return ep.ID == owner && len(ep.Ports) > 0 }) {
				out[netName] = append(out[netName], owner)
			}
		}
	}
	return out, nil
}

// DeletePortRules removes the published-port rules of owner on netName.
func (m *Manager) DeletePortRules(netName, owner string) error {
	fw, err := m.fw()
	if err != nil {
		return err
	}
	return fw.DeletePorts(netName, owner)
}

// StateLeftovers lists, as paths, what interrupted writes left in the
// state directory, which no command reads: the staging directories of
// network creates (networks/.create-NAME-*), listed under the global lock
// every create holds while it has one, and the temporary files of record
// writes (networks/NET/endpoints/.ID.json.tmp*), listed under the
// network's lock every record writer holds: none is a write in progress.
// It adds the temporary files of resolv.conf originals being replaced
// (targets/.*.tmp*), which no lock covers: such a replace is rare (the
// target's file was rewritten by someone else while attached) and one
// that loses its file to a concurrent doctor --fix fails whole.
// Equivalent to: `ls -d networks/.create-* networks/*/endpoints/.*.tmp* targets/.*.tmp*`.
func (m *Manager) StateLeftovers() ([]string, error) {
	glock, err := m.lockGlobal()
	if err != nil {
		return nil, err
	}
	staging, err := filepath.Glob(filepath.Join(m.networksDir(), ".create-*"))
	glock.Unlock()
	if err != nil {
		return nil, err
	}
	names, err := m.networkNames()
	if err != nil {
		return nil, err
	}
	// a resolv.conf original being replaced when a kill came (the first
	// save of one leaves nothing: container.PointResolv).
	kept, _ := filepath.Glob(filepath.Join(m.StateDir, "targets", ".*.tmp*"))
	out := append(staging, kept...)
	for _, name := range names {
		nlock, err := m.lockNetwork(name)
		if err != nil {
			continue
		}
		tmps, _ := filepath.Glob(filepath.Join(m.endpointsDir(name), ".*.json.tmp*"))
		nlock.Unlock()
		out = append(out, tmps...)
	}
	return out, nil
}

// RemoveStateLeftover removes path, one of StateLeftovers, whole: no
// writer is left to finish it. Equivalent to: `rm -r PATH`.
func (m *Manager) RemoveStateLeftover(path string) error {
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}
