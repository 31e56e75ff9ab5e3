package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Text writes t as a tree for a terminal: the host, each network under it
// (bridge, subnet, gateway, the DNS listener on the gateway), each
// endpoint under its network (name, interface, address, MAC, aliases, DNS
// at 127.0.0.11, published ports as host->port/proto). Columns are
// aligned within a network. Like `ip -br addr` per bridge, as a tree.
func Text(w io.Writer, t *Topology) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "host (%d networks, %d endpoints)\n", len(t.Networks), t.Endpoints())
	for i, n := range t.Networks {
		last := i == len(t.Networks)-1
		branch, indent := "├── ", "│   "
		if last {
			branch, indent = "└── ", "    "
		}
		bw.WriteString(branch + networkLine(n, t.Daemon) + "\n")
		writeEndpoints(bw, indent, n.Endpoints)
	}
	if len(t.Networks) == 0 {
		bw.WriteString("└── (no networks: plumb network create NAME)\n")
	}
	return bw.Flush()
}

// networkLine is a network's line: name, bridge, subnet, gateway, DNS.
func networkLine(n Network, daemon bool) string {
	parts := []string{n.Name, "bridge " + n.Bridge, n.Subnets(), "gw " + n.Gateways()}
	switch {
	case n.DNS.IsValid():
		parts = append(parts, "dns "+n.DNS.String())
	case !daemon:
		parts = append(parts, "dns off (daemon not running)")
	}
	if n.Internal {
		parts = append(parts, "internal")
	}
	if n.VNI != 0 {
		parts = append(parts, fmt.Sprintf("overlay vni %d (%d endpoint(s) on other hosts)", n.VNI, len(n.Remotes)))
	}
	return strings.Join(parts, "  ")
}

// writeEndpoints writes a network's endpoints under prefix, in columns.
func writeEndpoints(w *bufio.Writer, prefix string, eps []Endpoint) {
	rows := make([][]string, len(eps))
	widths := make([]int, 4)
	for i, ep := range eps {
		rows[i] = []string{ep.Name, ep.IfName, ep.Addrs(), ep.MAC}
		for c, cell := range rows[i] {
			widths[c] = max(widths[c], len(cell))
		}
	}
	for i, ep := range eps {
		branch := "├── "
		if i == len(eps)-1 {
			branch = "└── "
		}
		w.WriteString(prefix + branch)
		for c, cell := range rows[i] {
			w.WriteString(cell + strings.Repeat(" ", widths[c]-len(cell)+2))
		}
		w.WriteString(strings.TrimRight(endpointExtras(ep), " ") + "\n")
	}
}

// endpointExtras is what follows an endpoint's columns: aliases, DNS,
// published ports, stale.
func endpointExtras(ep Endpoint) string {
	var parts []string
	if len(ep.Aliases) > 0 {
		parts = append(parts, "aliases "+strings.Join(ep.Aliases, ","))
	}
	if ep.DNS {
		parts = append(parts, "dns "+DNSAddr.String())
	}
	for _, p := range ep.Ports {
		parts = append(parts, "port "+p.String())
	}
	if ep.Stale {
		parts = append(parts, "(stale: its namespace is gone)")
	}
	return strings.Join(parts, "  ")
}
