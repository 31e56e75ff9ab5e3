package nsview

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// View is what `ip` shows of a namespace: its interfaces with their
// addresses, its routes and its neighbour (ARP/NDP) table.
type View struct {
	Links      []Link      `json:"links"`
	Routes     []Route     `json:"routes"`
	Neighbours []Neighbour `json:"neighbours"`
}

// Link is one interface of the namespace. PeerIndex is, for a veth, the
// ifindex of its other end, which lives in another namespace (the host's,
// for a plumb endpoint); MasterIndex is the bridge or bond it is enslaved
// to, in this namespace.
type Link struct {
	Name        string         `json:"name"`
	Index       int            `json:"index"`
	Kind        string         `json:"kind"`
	MAC         string         `json:"mac,omitempty"`
	MTU         int            `json:"mtu"`
	Up          bool           `json:"up"`
	State       string         `json:"state"`
	Addrs       []netip.Prefix `json:"addrs"`
	PeerIndex   int            `json:"peerIndex,omitempty"`
	MasterIndex int            `json:"masterIndex,omitempty"`
}

// Route is one route of the namespace. Dst is /0 for a default route.
type Route struct {
	Table   int          `json:"table"`
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	Dev     string       `json:"dev,omitempty"`
	Src     netip.Addr   `json:"src,omitzero"`
	Proto   string       `json:"proto"`
	Scope   string       `json:"scope"`
}

// Neighbour is one entry of the neighbour table.
type Neighbour struct {
	IP    netip.Addr `json:"ip"`
	MAC   string     `json:"mac,omitempty"`
	Dev   string     `json:"dev"`
	State string     `json:"state"`
}

// Read reads the interfaces, routes (every table but local) and neighbours
// of the namespace at nsPath through one NETLINK_ROUTE socket opened in
// it. Equivalent to: `nsenter --net=PATH sh -c 'ip -d addr; ip route show
// table all; ip neigh'`.
func Read(nsPath string) (View, error) {
	h, err := handleAt(nsPath, unix.NETLINK_ROUTE)
	if err != nil {
		return View{}, err
	}
	defer h.Close()
	links, names, err := readLinks(h)
	if err != nil {
		return View{}, fmt.Errorf("listing interfaces in %s: %w", nsPath, err)
	}
	routes, err := readRoutes(h, names)
	if err != nil {
		return View{}, fmt.Errorf("listing routes in %s: %w", nsPath, err)
	}
	neigh, err := readNeighbours(h, names)
	if err != nil {
		return View{}, fmt.Errorf("listing neighbours in %s: %w", nsPath, err)
	}
	return View{Links: links, Routes: routes, Neighbours: neigh}, nil
}

// RouteGet asks the namespace's kernel which route it would take to dst.
// Equivalent to: `nsenter --net=PATH ip route get DST`.
func RouteGet(nsPath string, dst netip.Addr) (Route, error) {
	h, err := handleAt(nsPath, unix.NETLINK_ROUTE)
	if err != nil {
		return Route{}, err
	}
	defer h.Close()
	rs, err := h.RouteGet(dst.AsSlice())
	if err != nil {
		return Route{}, fmt.Errorf("route to %s in %s: %w", dst, nsPath, err)
	}
	if len(rs) == 0 {
		return Route{}, fmt.Errorf("route to %s in %s: none", dst, nsPath)
	}
	names := map[int]string{}
	if l, err := h.LinkByIndex(rs[0].LinkIndex); err == nil {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	return toRoute(rs[0], names), nil
}

func readLinks(h *netlink.Handle) ([]Link, map[int]string, error) {
	ls, err := h.LinkList()
	if err != nil {
		return nil, nil, err
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, nil, err
	}
	byLink := map[int][]netip.Prefix{}
	for _, a := range addrs {
		if p, ok := prefix(a.IPNet); ok {
			byLink[a.LinkIndex] = append(byLink[a.LinkIndex], p)
		}
	}
	out := make([]Link, 0, len(ls))
	names := map[int]string{}
	for _, l := range ls {
		a := l.Attrs()
		names[a.Index] = a.Name
		lk := Link{Name: a.Name, Index: a.Index, Kind: l.Type(), MTU: a.MTU,
			Up: a.Flags&net.FlagUp != 0, State: a.OperState.String(),
			Addrs: append([]netip.Prefix{}, byLink[a.Index]...), MasterIndex: a.MasterIndex}
		if len(a.HardwareAddr) > 0 {
			lk.MAC = a.HardwareAddr.String()
		}
		if lk.Kind == "veth" && a.ParentIndex != 0 {
			lk.PeerIndex = a.ParentIndex
		}
		out = append(out, lk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, names, nil
}

func readRoutes(h *netlink.Handle, names map[int]string) ([]Route, error) {
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL,
		&netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		if r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		out = append(out, toRoute(r, names))
	}
	return out, nil
}

func toRoute(r netlink.Route, names map[int]string) Route {
	out := Route{Table: r.Table, Dev: names[r.LinkIndex],
		Proto: r.Protocol.String(), Scope: r.Scope.String()}
	if p, ok := prefix(r.Dst); ok {
		out.Dst = p
	} else if r.Family == unix.AF_INET6 {
		out.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	} else {
		out.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	out.Gateway = addr(r.Gw)
	out.Src = addr(r.Src)
	return out
}

func readNeighbours(h *netlink.Handle, names map[int]string) ([]Neighbour, error) {
	ns, err := h.NeighList(0, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := make([]Neighbour, 0, len(ns))
	for _, n := range ns {
		if n.State&netlink.NUD_NOARP != 0 {
			continue // multicast and loopback entries `ip neigh` hides
		}
		nb := Neighbour{IP: addr(n.IP), Dev: names[n.LinkIndex], State: neighState(n.State)}
		if len(n.HardwareAddr) > 0 {
			nb.MAC = n.HardwareAddr.String()
		}
		out = append(out, nb)
	}
	return out, nil
}

// neighState names a NUD state as `ip neigh` does.
func neighState(s int) string {
	for _, n := range []struct {
		bit  int
		name string
	}{
		{netlink.NUD_PERMANENT, "PERMANENT"}, {netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"},
		{netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"},
		{netlink.NUD_INCOMPLETE, "INCOMPLETE"},
	} {
		if s&n.bit != 0 {
			return n.name
		}
	}
	return "NONE"
}

func prefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a := addr(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones), a.IsValid()
}

func addr(ip net.IP) netip.Addr {
	if ip4 := ip.To4(); ip4 != nil {
		return netip.AddrFrom4([4]byte(ip4))
	}
	a, _ := netip.AddrFromSlice(ip)
	return a
}

// Links lists the interfaces of the namespace at nsPath with their
// addresses, as Read does, without its routes and neighbours: what a
// lookup of veth peers on the host needs. Equivalent to: `nsenter
// --net=PATH ip -d addr`.
func Links(nsPath string) ([]Link, error) {
	h, err := handleAt(nsPath, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, _, err := readLinks(h)
	if err != nil {
		return nil, fmt.Errorf("listing interfaces in %s: %w", nsPath, err)
	}
	return links, nil
}
