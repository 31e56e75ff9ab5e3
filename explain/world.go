package explain

import (
	"net/netip"
	"os"
	"strings"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/iptables"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
)

// world is what Explain reads once: plumb's model and the host facts.
type world struct {
	// remotes are the overlay networks' endpoints on other hosts, by
	// address, as the cluster agent recorded them.
	remotes  map[netip.Addr]remoteAt
	m        *network.Manager
	nets     []*network.Network // in the order List gives
	byName   map[string]*network.Network
	byBridge map[string]*network.Network
	eps      []*network.Endpoint
	byIP     map[netip.Addr]*network.Endpoint
	// hostAddrs are the addresses of plumb's own namespace (the host), by
	// the link that holds them; hostPrefixes the same with their length.
	hostAddrs    map[netip.Addr]string
	hostPrefixes map[netip.Prefix]string
	rules        *iptables.Ruleset // nil when it could not be read
	rulesErr     error
	// nft: plumb's networks are on the nftables backend; checker is one
	// reading of its table (nil when it could not be read: checkErr).
	nft      bool
	checker  firewall.Checker
	checkErr error
	brnf     bool // bridged frames go through iptables (br_netfilter)
	brnf6    bool // bridged IPv6 frames go through ip6tables
	// listening lists a namespace's listeners: nsview.Listening, or a
	// fake in tests.
	listening func(nsPath string) ([]nsview.Socket, error)
}

// read loads the model and the host facts. Only the state directory is
// required; a fact that cannot be read is reported where it matters.
func read(m *network.Manager) (*world, error) {
	w := &world{m: m, byName: map[string]*network.Network{}, byBridge: map[string]*network.Network{},
		byIP: map[netip.Addr]*network.Endpoint{}, hostAddrs: map[netip.Addr]string{}, hostPrefixes: map[netip.Prefix]string{}}
	nets, err := m.List() // one line, however many are damaged
	if err != nil && nets == nil {
		return nil, err
	}
	for _, n := range nets {
		w.nets = append(w.nets, n)
		w.byName[n.Name] = n
		w.byBridge[n.Bridge] = n
		if n.Overlay() {
			rs, _ := m.Remotes(n.Name)
			for _, r := range rs {
				if w.remotes == nil {
					w.remotes = map[netip.Addr]remoteAt{}
				}
				w.remotes[r.IP] = remoteAt{r, n}
			}
		}
		eps, _ := m.Endpoints(n.Name)
		for _, e := range eps {
			w.eps = append(w.eps, e)
			if e.Alive() {
				for _, ip := range e.Addrs() {
					w.byIP[ip.Addr()] = e
				}
			}
		}
	}
	w.readHost()
	w.rules, w.rulesErr = iptables.ReadRuleset()
	if b, _ := m.FirewallBackend(); b == network.FirewallNftables {
		w.nft = true
		w.checker, w.checkErr = m.FirewallSnapshot()
	}
	w.brnf = sysctlOn("/proc/sys/net/bridge/bridge-nf-call-iptables")
	w.brnf6 = sysctlOn("/proc/sys/net/bridge/bridge-nf-call-ip6tables")
	return w, nil
}

func sysctlOn(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// readHost lists the IPv4 and IPv6 addresses of plumb's namespace.
// Equivalent to: `ip -o addr show`.
func (w *world) readHost() {
	links, err := nsview.Links(nsview.HostNS)
	if err != nil {
		return
	}
	for _, l := range links {
		for _, p := range l.Addrs {
			w.hostAddrs[p.Addr()] = l.Name
			w.hostPrefixes[p] = l.Name
		}
	}
}

// isHost reports whether a is an address of the host's own namespace.
func (w *world) isHost(a netip.Addr) bool {
	_, ok := w.hostAddrs[a]
	return ok || a.IsLoopback()
}

// ifaceFor is the host link on the subnet of a (how a packet from a
// neighbour host at a comes in), or "".
func (w *world) ifaceFor(a netip.Addr) string {
	for p, name := range w.hostPrefixes {
		if p.Masked().Contains(a) && !a.IsLoopback() {
			return name
		}
	}
	return ""
}

// remoteAt is an overlay network's endpoint on another host.
type remoteAt struct {
	r network.RemoteEndpoint
	n *network.Network
}
