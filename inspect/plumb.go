package inspect

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/firewall/nftables"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/overlay"
)

// endpoints is what plumb recorded of the target, one endpoint per network.
// Equivalent to: `cat STATEDIR/networks/NET/endpoints/ID.json`.
func endpoints(m *network.Manager, eps []*network.Endpoint) Section[[]*network.Endpoint] {
	s := Section[[]*network.Endpoint]{Items: eps}
	var files []string
	for _, ep := range eps {
		files = append(files, filepath.Join(m.StateDir, "networks", ep.Network, "endpoints", ep.ID+".json"))
	}
	if len(files) > 0 {
		s.Command = "cat " + strings.Join(files, " ")
	}
	return s
}

// dnsNames is what plumb's name service answers for the target on each of
// its networks and what the target can resolve there, from the running
// daemon's table, else from the state directory. Equivalent to: `plumb
// dns ls --net NET`, and from inside, `dig @127.0.0.11 NAME`.
func dnsNames(m *network.Manager, ns string, eps []*network.Endpoint) Section[[]DNSNames] {
	var s Section[[]DNSNames]
	var cmds []string
	for _, ep := range eps {
		d := DNSNames{Network: ep.Network, IP: ep.IP.Addr(), IP6: ep.IP6.Addr(), Source: "daemon"}
		recs, err := m.DNSRecords(ep.Network)
		if err != nil {
			d.Source = "state"
			recs = m.StateDNSRecords(ep.Network)
		}
		mine, others := map[string]bool{}, map[string]bool{}
		for _, r := range recs {
			if r.Endpoint == ep.ID {
				mine[r.Name] = true
			} else {
				others[r.Name] = true
			}
		}
		d.Names, d.Resolves = sortedKeys(mine), sortedKeys(others)
		s.Items = append(s.Items, d)
		cmds = append(cmds, "plumb dns ls --net "+ep.Network)
		if len(d.Names) > 0 && d.IP.IsValid() {
			cmds = append(cmds, enter(ns, "dig +short @127.0.0.11 "+d.Names[0]))
		}
		if len(d.Names) > 0 && d.IP6.IsValid() {
			cmds = append(cmds, enter(ns, "dig +short AAAA @127.0.0.11 "+d.Names[0]))
		}
	}
	s.Command = strings.Join(cmds, "; ")
	return s
}

// rules are the firewall rules that apply to the target: the DNAT rules of
// its published ports (and, for a network in gateway mode routed, the
// accepts of PLUMB-ROUTED), what serves a port published on [::1], then
// the rules of each of its networks, iptables then ip6tables, as plumb
// writes them. Equivalent to: `iptables-save | grep -E
// '"plumb:NET(/ID)?"'; ip6tables-save | grep -E ...`.
func rules(m *network.Manager, eps []*network.Endpoint) Section[[]Rule] {
	if b, _ := m.FirewallBackend(); b == network.FirewallNftables {
		return nftRules(m, eps)
	}
	var s Section[[]Rule]
	var cmds, errs []string
	for _, ep := range eps {
		n, err := m.Get(ep.Network)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, r := range iptables.PortRulesOn(n.Firewall(), ep.ID, ep.FirewallPorts()) {
			s.Items = append(s.Items, Rule{Network: n.Name, Why: "published port", Rule: r.String()})
		}
		s.Items = append(s.Items, relayed(n.Name, ep)...)
		s.Items = append(s.Items, overlayRules(m, n)...)
		for _, r := range iptables.Rules(n.Firewall()) {
			s.Items = append(s.Items, Rule{Network: n.Name, Why: "network", Rule: r.String()})
		}
		grep := ` | grep -E '"` + iptables.NetworkComment(n.Name) + "(/" + ep.ID + `)?"'`
		cmds = append(cmds, "iptables-save"+grep)
		if n.IPv6() {
			cmds = append(cmds, "ip6tables-save"+grep)
		}
	}
	s.Command, s.Error = strings.Join(cmds, "; "), strings.Join(errs, "; ")
	return s
}

// relayed are ep's ports published on [::1]: no rule serves them (IPv6
// has no route_localnet, so ::1 cannot be DNAT'd out through a bridge);
// plumb's daemon holds them and relays each connection to the container.
// Equivalent to: `ss -ltnp 'sport = :PORT'` on the host.
func relayed(netName string, ep *network.Endpoint) []Rule {
	var out []Rule
	for _, p := range ep.FirewallPorts() {
		if p.Is6() && p.HostIP.IsLoopback() {
			out = append(out, Rule{Network: netName, Why: "published port",
				Rule: p.String() + ": no rule; relayed by plumb's daemon to " + netip.AddrPortFrom(p.ContainerIP, p.ContainerPort).String() + " (IPv6 has no route_localnet)"})
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nftRules is rules on the nftables backend: the elements the target's
// published ports and each of its networks put in plumb's table, then the
// rules of the table's forward chain that look them up (the same for every
// network). Equivalent to: `nft list table inet plumb-networks | grep -E
// '"plumb:NET(/ID)?"'; nft list chain inet plumb-networks forward`.
func nftRules(m *network.Manager, eps []*network.Endpoint) Section[[]Rule] {
	var s Section[[]Rule]
	var cmds, errs []string
	for _, ep := range eps {
		n, err := m.Get(ep.Network)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, e := range nftables.PortElements(n.Name, ep.ID, ep.FirewallPorts()) {
			s.Items = append(s.Items, Rule{Network: n.Name, Why: "published port", Rule: e.String()})
		}
		s.Items = append(s.Items, relayed(n.Name, ep)...)
		s.Items = append(s.Items, overlayRules(m, n)...)
		for _, e := range nftables.NetworkElements(n.Firewall()) {
			s.Items = append(s.Items, Rule{Network: n.Name, Why: "network", Rule: e.String()})
		}
		cmds = append(cmds, "nft list table inet "+nftables.NetTable+` | grep -E '"plumb:`+n.Name+"(/"+ep.ID+`)?"'`)
	}
	if len(s.Items) > 0 {
		for _, r := range nftables.ChainRules(nftables.ChainFwd) {
			s.Items = append(s.Items, Rule{Network: "*", Why: "forward", Rule: r.String()})
		}
		cmds = append(cmds, "nft list chain inet "+nftables.NetTable+" "+nftables.ChainFwd)
	}
	s.Command, s.Error = strings.Join(cmds, "; "), strings.Join(errs, "; ")
	return s
}

// overlayRules say how an overlay network n reaches its endpoints on other
// hosts: its VXLAN port and the remote endpoints the cluster agent
// programmed on it. None for a bridge network. Equivalent to:
// `ip -d link show vx-…; bridge fdb show dev vx-…`.
func overlayRules(m *network.Manager, n *network.Network) []Rule {
	if !n.Overlay() {
		return nil
	}
	dev := overlay.VXLANName(n.Name)
	out := []Rule{{Network: n.Name, Why: "overlay", Rule: fmt.Sprintf("vxlan %s on bridge %s: VNI %d, UDP %d, learning off", dev, n.Bridge, n.VNI, overlay.DefaultPort)}}
	rs, _ := m.Remotes(n.Name)
	for _, r := range rs {
		out = append(out, Rule{Network: n.Name, Why: "overlay", Rule: fmt.Sprintf("%s (%s) on host %s: bridge fdb %s dev %s dst <its underlay address>", r.IP, strings.Join(r.Names, ","), r.Host, r.MAC, dev)})
	}
	return out
}
