package network

import (
	"bytes"
	"fmt"
	"net/netip"
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
		for _, ip := range found.Addrs() {
			out = append(out, container.HostsEntry{IP: ip.Addr(), Names: names})
		}
	}
	return out, nil
}

// ip6Localhost are the IPv6 lines Docker writes into the /etc/hosts of a
// container with IPv6.
var ip6Localhost = []container.HostsEntry{
	{IP: netip.IPv6Loopback(), Names: []string{"localhost", "ip6-localhost", "ip6-loopback"}},
	{IP: netip.MustParseAddr("fe00::"), Names: []string{"ip6-localnet"}},
	{IP: netip.MustParseAddr("ff00::"), Names: []string{"ip6-mcastprefix"}},
	{IP: netip.MustParseAddr("ff02::1"), Names: []string{"ip6-allnodes"}},
	{IP: netip.MustParseAddr("ff02::2"), Names: []string{"ip6-allrouters"}},
}

// hostsEntries are the lines endpoint ep writes into its target's
// /etc/hosts: its own names on each of its addresses, its --link entries
// (linked), and, with IPv6, Docker's IPv6 localhost lines unless old has
// them already of its own (not plumb's: each IPv6 endpoint carries its
// copy under its tag, so that detaching one leaves the others' lines).
func hostsEntries(ep *Endpoint, linked []container.HostsEntry, old []byte) []container.HostsEntry {
	var out []container.HostsEntry
	if names := ep.Names(); len(names) > 0 {
		for _, ip := range ep.Addrs() {
			out = append(out, container.HostsEntry{IP: ip.Addr(), Names: names})
		}
	}
	out = append(out, linked...)
	if ep.IP6.IsValid() && !hasOwnIP6Localhost(old) {
		out = append(out, ip6Localhost...)
	}
	return out
}

// hasOwnIP6Localhost reports whether hosts content b has an ip6-localhost
// line that is not plumb's (Docker's, or the file's own).
func hasOwnIP6Localhost(b []byte) bool {
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(l, []byte("ip6-localhost")) && !bytes.Contains(l, []byte("# plumb:")) {
			return true
		}
	}
	return false
}
