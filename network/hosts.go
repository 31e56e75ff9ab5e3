package network

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plumbnet/plumb/container"
)

// hostsTag marks the /etc/hosts lines that belong to ep.
func hostsTag(ep *Endpoint) string { return ep.Network + "/" + ep.ID }

// linkEntries resolves Docker's legacy --link NAME[:ALIAS] against the
// endpoints of network netName: a hosts entry "IP ALIAS NAME" for each.
func (m *Manager) linkEntries(netName string, links []string) ([]container.HostsEntry, error) {
	if len(links) == 0 {
		return nil, nil
	}
	eps, err := m.Endpoints(netName)
	if err != nil {
		return nil, err
	}
	var out []container.HostsEntry
	for _, l := range links {
		name, alias, _ := strings.Cut(l, ":")
		if !validDNSName(name) || (alias != "" && !validDNSName(alias)) {
			return nil, fmt.Errorf("link %q: %w: want NAME or NAME:ALIAS", l, ErrInvalid)
		}
		var found *Endpoint
		for _, ep := range eps {
			if slices.Contains(ep.DNSNames(), name) {
				found = ep
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("link %q: %q is %w to network %q", l, name, ErrNotAttached, netName)
		}
		names := []string{name}
		if alias != "" && alias != name {
			names = []string{alias, name}
		}
		out = append(out, container.HostsEntry{IP: found.IP.Addr(), Names: names})
	}
	return out, nil
}
