package graph

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/portmap"
)

// Topology is what a graph shows: the networks, sorted by name.
type Topology struct {
	Networks []Network
	// Daemon says whether the plumb daemon answered: when it did not, no
	// DNS listener is drawn (none is served).
	Daemon bool
}

// Network is one plumb network and its endpoints, sorted by address.
type Network struct {
	Name     string
	Bridge   string
	Subnet   netip.Prefix // zero on an IPv6-only network
	Gateway  netip.Addr
	Subnet6  netip.Prefix // zero on an IPv4-only network
	Gateway6 netip.Addr
	Internal bool
	// VNI is an overlay network's VXLAN id, 0 for a bridge network;
	// Remotes are its endpoints on other hosts, by address (as the
	// cluster agent recorded them).
	VNI     uint32
	Remotes []network.RemoteEndpoint
	// DNS is the gateway listener's address (gateway:53), when the daemon
	// runs; invalid otherwise.
	DNS       netip.AddrPort
	Endpoints []Endpoint
}

// Endpoint is one target's attachment to a network.
type Endpoint struct {
	ID      string
	Name    string // container name, hostname, else the target as given
	IfName  string
	IP      netip.Prefix // zero on an IPv6-only network
	IP6     netip.Prefix // zero on an IPv4-only network
	MAC     string
	Aliases []string
	Ports   []portmap.Mapping // published host ports, sorted
	DNS     bool              // a 127.0.0.11 listener is in its namespace
	Host    string            // the host of an overlay network's remote endpoint; "" here
	Stale   bool              // its namespace is gone
}

// Subnets is the network's subnets as text: "10.1.0.0/24",
// "fd00::/64", or both joined by ", ".
func (n Network) Subnets() string { return joinValid(n.Subnet, n.Subnet6) }

// Gateways is the network's gateways as text, as Subnets; "none" when it
// has none (isolated gateway modes).
func (n Network) Gateways() string { return cmp.Or(joinValid(n.Gateway, n.Gateway6), "none") }

// joinValid joins the valid ones of vs with ", ".
func joinValid[T interface {
	IsValid() bool
	String() string
}](vs ...T) string {
	var out []string
	for _, v := range vs {
		if v.IsValid() {
			out = append(out, v.String())
		}
	}
	return strings.Join(out, ", ")
}

// Addrs is the endpoint's addresses as text: "172.30.0.2/24",
// "fd00::2/64", or both joined by ", ".
func (e Endpoint) Addrs() string { return joinValid(e.IP, e.IP6) }

// DNSAddr is where the daemon answers inside every attached namespace.
var DNSAddr = netip.MustParseAddrPort("127.0.0.11:53")

// Load reads the topology of the network netName, or of every network when
// it is empty, from m's state directory, and asks the daemon, without
// starting it, what it serves. An unknown network is network.ErrNotFound.
func Load(m *network.Manager, netName string) (*Topology, error) {
	var nets []*network.Network
	if netName != "" {
		n, err := m.Get(netName)
		if err != nil {
			return nil, err
		}
		nets = []*network.Network{n}
	} else {
		var err error
		if nets, err = m.List(); err != nil && len(nets) == 0 {
			return nil, err
		}
	}
	eps, err := m.AllEndpoints(netName)
	if err != nil {
		return nil, err
	}
	// A daemon that is not running, or does not answer, serves nothing.
	var served *control.Listening
	if l, err := m.Served(); err == nil {
		served = &l
	}
	t := Build(nets, eps, served, (*network.Endpoint).Stale)
	for i, n := range t.Networks {
		if n.VNI == 0 {
			continue
		}
		t.Networks[i].Remotes, _ = m.Remotes(n.Name)
		for _, r := range t.Networks[i].Remotes {
			t.Networks[i].Endpoints = append(t.Networks[i].Endpoints, remoteEndpoint(r, n.Subnet.Bits()))
		}
	}
	t.sort()
	return t, nil
}

// remoteEndpoint is an overlay network's endpoint on another host, as the
// topology shows it: its first name, its address, "on HOST" for its
// interface.
func remoteEndpoint(r network.RemoteEndpoint, bits int) Endpoint {
	name := r.ID
	if len(r.Names) > 0 {
		name = r.Names[0]
	}
	return Endpoint{ID: r.ID, Name: name, IfName: "on " + r.Host, IP: netip.PrefixFrom(r.IP, bits), MAC: r.MAC, Host: r.Host}
}

// Build is the topology of nets and their endpoints eps. served is what
// the daemon serves, nil when it does not answer; stale tells whether an
// endpoint's namespace is gone (nil: none is).
func Build(nets []*network.Network, eps []*network.Endpoint, served *control.Listening, stale func(*network.Endpoint) bool) *Topology {
	t := &Topology{Daemon: served != nil}
	index := map[string]int{}
	for _, n := range nets {
		gn := Network{Name: n.Name, Bridge: n.Bridge, Subnet: n.Subnet, Gateway: n.Gateway,
			Subnet6: n.Subnet6, Gateway6: n.Gateway6, Internal: n.Internal, VNI: n.VNI}
		if gw := cmp.Or(n.Gateway, n.Gateway6); served != nil && gw.IsValid() {
			gn.DNS = netip.AddrPortFrom(gw, 53)
		}
		index[n.Name] = len(t.Networks)
		t.Networks = append(t.Networks, gn)
	}
	for _, ep := range eps {
		i, ok := index[ep.Network]
		if !ok {
			continue
		}
		ge := Endpoint{ID: ep.ID, Name: endpointName(ep), IfName: ep.IfName, IP: ep.IP, IP6: ep.IP6, MAC: ep.MAC,
			Aliases: slices.Clone(ep.Aliases), Ports: slices.Clone(ep.Ports)}
		ge.DNS = served != nil && served.Namespaces[ep.NamespaceKey()]
		ge.Stale = stale != nil && stale(ep)
		t.Networks[i].Endpoints = append(t.Networks[i].Endpoints, ge)
	}
	t.sort()
	return t
}

// endpointName is what a person calls the endpoint.
func endpointName(ep *network.Endpoint) string {
	switch {
	case ep.ContainerName != "":
		return ep.ContainerName
	case ep.Hostname != "":
		return ep.Hostname
	}
	return ep.Target
}

// sort puts networks by name, endpoints by address then name, ports by
// host address, host port and protocol: the order every rendering uses.
func (t *Topology) sort() {
	slices.SortFunc(t.Networks, func(a, b Network) int { return cmp.Compare(a.Name, b.Name) })
	for i := range t.Networks {
		slices.SortFunc(t.Networks[i].Endpoints, func(a, b Endpoint) int {
			if c := a.IP.Addr().Compare(b.IP.Addr()); c != 0 {
				return c
			}
			if c := a.IP6.Addr().Compare(b.IP6.Addr()); c != 0 {
				return c
			}
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
		for j := range t.Networks[i].Endpoints {
			slices.SortFunc(t.Networks[i].Endpoints[j].Ports, comparePorts)
		}
	}
}

func comparePorts(a, b portmap.Mapping) int {
	return cmp.Or(a.Host().Addr().Compare(b.Host().Addr()), cmp.Compare(a.HostPort, b.HostPort),
		cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
}

// Endpoints counts the endpoints of every network.
func (t *Topology) Endpoints() int {
	n := 0
	for _, net := range t.Networks {
		n += len(net.Endpoints)
	}
	return n
}
