package network

import (
	"errors"
	"slices"
	"sort"

	"github.com/plumbnet/plumb/veth"
)

// StrayLinks lists the host's links plumb made and no record owns: veths
// named like plumb's host ends (HostVethName) that no endpoint of any
// network has, and retired pairs (veth.RetiredPrefix) the daemon did not
// delete. Equivalent to: `ip -o link` and reading it.
func (m *Manager) StrayLinks() ([]string, error) {
	host, err := m.links().HostLinks()
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	names, _ := m.networkNames()
	for _, name := range names {
		n, err := m.Get(name)
		eps, _ := m.Endpoints(name)
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
// that no endpoint record has: rules a killed detach or attach left.
func (m *Manager) StrayPortRules() (map[string][]string, error) {
	fw, err := m.fw()
	if err != nil {
		return nil, err
	}
	c, err := fw.Snapshot()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for netName, owners := range c.PortOwners() {
		eps, _ := m.Endpoints(netName)
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
