package inspect

import (
	"net/netip"
	"strings"

	"github.com/plumbnet/plumb/nsview"
)

type (
	nsviewRoute     = nsview.Route
	nsviewNeighbour = nsview.Neighbour
	nsviewSocket    = nsview.Socket
)

const notAttached = "  not attached by plumb\n"

func (p *printer) endpoints(r *Report) {
	p.printf("PLUMB ENDPOINTS\n")
	if !r.Attached {
		p.printf(notAttached + "\n")
		return
	}
	var rows [][]string
	for _, ep := range r.Endpoints.Items {
		var ports []string
		for _, pp := range ep.Ports {
			ports = append(ports, pp.String())
		}
		rows = append(rows, []string{ep.Network, prefixes(ep.Addrs()), ep.MAC, ep.IfName, ep.HostVeth,
			dash(strings.Join(ep.Aliases, ",")), dash(strings.Join(ports, ", "))})
	}
	p.table("NETWORK\tIP\tMAC\tIFNAME\tHOST VETH\tALIASES\tPORTS", rows)
	p.footer(r.Endpoints.Error, r.Endpoints.Command)
}

func (p *printer) dns(r *Report) {
	p.printf("PLUMB DNS (127.0.0.11)\n")
	if !r.Attached {
		p.printf(notAttached + "\n")
		return
	}
	var rows [][]string
	for _, d := range r.DNS.Items {
		rows = append(rows, []string{d.Network, addrs(d.IP, d.IP6), dash(strings.Join(d.Names, ", ")),
			dash(strings.Join(d.Resolves, ", ")), d.Source})
	}
	p.table("NETWORK\tIP\tANSWERS FOR IT\tIT RESOLVES\tFROM", rows)
	p.footer(r.DNS.Error, r.DNS.Command)
}

// addrs is the addresses that are valid among as, comma-separated, or "-".
func addrs(as ...netip.Addr) string {
	var s []string
	for _, a := range as {
		if a.IsValid() {
			s = append(s, a.String())
		}
	}
	return dash(strings.Join(s, ", "))
}

func (p *printer) firewall(r *Report) {
	p.printf("FIREWALL\n")
	if !r.Attached {
		p.printf(notAttached + "\n")
		return
	}
	var rows [][]string
	for _, f := range r.Firewall.Items {
		rows = append(rows, []string{f.Network, f.Why, f.Rule})
	}
	p.table("NETWORK\tFOR\tRULE", rows)
	p.footer(r.Firewall.Error, r.Firewall.Command)
}
