package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Dot writes t as a Graphviz digraph: a "host" node; one cluster per
// network holding its bridge node (gateway, DNS) and its endpoint nodes,
// an edge from the bridge to each endpoint (its veth); an edge from the
// host to each bridge (the gateway address is the host's); and a labelled
// edge from the host to each endpoint per published port. Render it with
// `dot -Tsvg`.
func Dot(w io.Writer, t *Topology) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("digraph plumb {\n")
	bw.WriteString("\trankdir=LR;\n\tnode [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n")
	bw.WriteString("\tedge [fontname=\"Helvetica\", fontsize=9];\n")
	bw.WriteString("\thost [label=\"host\", shape=box3d];\n")
	for _, n := range t.Networks {
		writeCluster(bw, n)
	}
	for _, n := range t.Networks {
		fmt.Fprintf(bw, "\thost -> %s [dir=none];\n", quote("br/"+n.Name))
		for _, ep := range n.Endpoints {
			for _, p := range ep.Ports {
				fmt.Fprintf(bw, "\thost -> %s [label=%s, color=\"#1f6feb\", fontcolor=\"#1f6feb\"];\n",
					quote("ep/"+n.Name+"/"+ep.ID), quote(p.String()))
			}
		}
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// writeCluster writes one network's cluster: its bridge, its endpoints and
// the veth edges.
func writeCluster(w *bufio.Writer, n Network) {
	label := n.Name + "\n" + n.Subnets()
	if n.Internal {
		label += " (internal)"
	}
	fmt.Fprintf(w, "\tsubgraph %s {\n\t\tlabel=%s;\n\t\tstyle=rounded;\n\t\tcolor=\"#8b949e\";\n", quote("cluster_"+n.Name), quote(label))
	fmt.Fprintf(w, "\t\t%s [label=%s, shape=box, style=\"rounded,filled\", fillcolor=\"#eef2f7\"];\n",
		quote("br/"+n.Name), quote(strings.Join(bridgeLines(n), "\n")))
	for _, ep := range n.Endpoints {
		attrs := ""
		if ep.Stale {
			attrs = ", style=\"rounded,dashed\", color=\"#8b949e\""
		}
		fmt.Fprintf(w, "\t\t%s [label=%s%s];\n", quote("ep/"+n.Name+"/"+ep.ID), quote(strings.Join(endpointLines(ep), "\n")), attrs)
	}
	for _, ep := range n.Endpoints {
		fmt.Fprintf(w, "\t\t%s -> %s [dir=none, label=%s];\n", quote("br/"+n.Name), quote("ep/"+n.Name+"/"+ep.ID), quote(ep.IfName))
	}
	w.WriteString("\t}\n")
}

// bridgeLines is the text of a network's bridge node.
func bridgeLines(n Network) []string {
	lines := []string{n.Bridge, "gw " + n.Gateways()}
	if n.DNS.IsValid() {
		lines = append(lines, "dns "+n.DNS.String())
	}
	return lines
}

// endpointLines is the text of an endpoint's node.
func endpointLines(ep Endpoint) []string {
	lines := []string{ep.Name, ep.IfName + " " + ep.Addrs()}
	if ep.MAC != "" {
		lines = append(lines, ep.MAC)
	}
	if len(ep.Aliases) > 0 {
		lines = append(lines, "aka "+strings.Join(ep.Aliases, ", "))
	}
	if ep.DNS {
		lines = append(lines, "dns "+DNSAddr.String())
	}
	if ep.Stale {
		lines = append(lines, "stale")
	}
	return lines
}

// quote is s as a DOT string: double quotes, with '"' and '\' escaped and
// newlines as \n.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	return `"` + s + `"`
}
