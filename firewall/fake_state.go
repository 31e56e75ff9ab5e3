package firewall

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Networks returns the names of the networks ensured, sorted.
func (f *Fake) Networks() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.nets))
}

// Network returns the config the network named name was last ensured with,
// and whether it is ensured.
func (f *Fake) Network(name string) (Network, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.nets[name]
	return n, ok
}

// Ports returns the ports owner has published on the network named
// network, in the order they were added; none is nil.
func (f *Fake) Ports(network, owner string) []Port {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ports[network][owner])
}

// Empty reports whether no network is ensured, no port published and no
// bridge guarded: what the backends leave once the last network is deleted.
func (f *Fake) Empty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.nets) == 0 && len(f.ports) == 0 && len(f.guards) == 0
}

// Calls returns every call made so far, failed ones included, one string
// each: the method and its arguments, e.g. "EnsureNetwork web",
// "AddPorts web ep1 0.0.0.0:8080->80/tcp", "DeletePorts web ep1".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// String dumps the state, by network name: the network's config when it is
// ensured, then one line per owner's ports, by owner:
//
//	web br-web 172.30.0.0/24 icc masquerade
//	web/ep1 0.0.0.0:8080->172.30.0.2:80/tcp 127.0.0.1:53->172.30.0.2:53/udp
//	v6 br-v6 172.31.0.0/24 fd00:1::/64 icc masquerade mode6=routed
//	v6/ep2 [::]:8080->[fd00:1::2]:80/tcp
//
// The ports of a network that is not ensured are listed without their
// network line. Then one line per guarded bridge, sorted:
//
//	guard br-web
//
// The empty Fake is "".
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := slices.Collect(maps.Keys(f.nets))
	for name := range f.ports {
		if _, ok := f.nets[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var lines []string
	for _, name := range names {
		if n, ok := f.nets[name]; ok {
			lines = append(lines, name+" "+formatNetwork(n))
		}
		for _, owner := range slices.Sorted(maps.Keys(f.ports[name])) {
			var ps []string
			for _, p := range f.ports[name][owner] {
				ps = append(ps, formatPort(p))
			}
			lines = append(lines, name+"/"+owner+" "+strings.Join(ps, " "))
		}
	}
	for _, br := range slices.Sorted(maps.Keys(f.guards)) {
		lines = append(lines, "guard "+br)
	}
	return strings.Join(lines, "\n")
}

// formatNetwork renders n's config as "BRIDGE SUBNET [SUBNET6] [internal]
// [icc] [masquerade] [mode4=MODE] [mode6=MODE]": the subnets that are
// valid, the modes that are set.
func formatNetwork(n Network) string {
	s := n.Bridge
	for _, p := range []netip.Prefix{n.Subnet, n.Subnet6} {
		if p.IsValid() {
			s += " " + p.String()
		}
	}
	for _, flag := range []struct {
		on   bool
		name string
	}{{n.Internal, "internal"}, {n.ICC, "icc"}, {n.Masquerade, "masquerade"},
		{n.Mode4 != "", "mode4=" + n.Mode4}, {n.Mode6 != "", "mode6=" + n.Mode6}} {
		if flag.on {
			s += " " + flag.name
		}
	}
	return s
}

// formatPort renders p with its container address, which Port.String
// leaves out: "0.0.0.0:8080->172.30.0.2:80/tcp",
// "[::]:8080->[fd00::2]:80/tcp".
func formatPort(p Port) string {
	return fmt.Sprintf("%s->%s/%s", netip.AddrPortFrom(p.hostIP(), p.HostPort), netip.AddrPortFrom(p.ContainerIP, p.ContainerPort), p.Proto)
}
