package firewall

import "fmt"

// Firewall is what plumb asks of the host's packet filter for its bridge
// networks: a network's forwarding, isolation and masquerade rules, and the
// DNAT of the ports its endpoints publish. A backend writes only into what
// plumb owns, never changes a built-in policy, and leaves nothing behind
// once its last network is deleted. Methods are safe for concurrent use; a
// backend orders calls across plumb processes itself (iptables: a lock
// file).
type Firewall interface {
	// Backend names the implementation: "iptables" (later "nftables").
	Backend() string

	// EnsureNetwork makes n's rules present exactly once, as well as what
	// every network shares (plumb's chains or table), creating what is
	// missing. It is safe to call twice and repairs what it finds missing,
	// duplicated or out of place; the rules of an older config of the same
	// network name are replaced. Rules of ports published on n stay.
	EnsureNetwork(n Network) error

	// DeleteNetwork removes the rules of the network named name, the ports
	// published on it included. Deleting the last network removes what the
	// networks shared too. Rules already gone are success.
	DeleteNetwork(name string) error

	// AddPorts publishes ports for owner (an endpoint id) on n: traffic to
	// each HostIP:HostPort is sent to its ContainerIP:ContainerPort. The
	// caller guarantees owner has no port published on n yet (DeletePorts
	// first when in doubt). A backend may repair n's rules on the way when
	// it finds them missing. No ports is a no-op.
	AddPorts(n Network, owner string, ports []Port) error

	// DeletePorts removes every port owner published on the network named
	// network. Ports already gone are success.
	DeletePorts(network, owner string) error

	// EnsureAll makes the rules of every network of nets present exactly
	// once, as EnsureNetwork does, and the ports of every owner of pubs
	// published exactly as listed (what else that owner had on its network
	// goes), in one reading and one write: what a firewall flush took, all
	// of it, is put back at once. Networks and owners not listed are left
	// as they are. It is safe to call twice, and reports whether it
	// changed anything.
	EnsureAll(nets []Network, pubs []Published) (changed bool, err error)
	// CheckNetwork reports whether n's rules and what every network shares
	// are in place, as EnsureNetwork(n) leaves them. It changes nothing; the
	// error lists every problem found.
	CheckNetwork(n Network) error

	// CheckEndpoint is CheckNetwork, and checks that owner's ports are
	// published on n too.
	CheckEndpoint(n Network, owner string, ports []Port) error

	// Snapshot reads the rules once and returns a Checker answering from
	// that one reading: ps and doctor check every network and endpoint for
	// the cost of one read. It changes nothing.
	Snapshot() (Checker, error)
}

// PortDeleter is what a Firewall may implement besides DeletePorts when
// it can unpublish faster knowing the ports: DeletePortsOf removes the
// ports owner published on network, ports being exactly what AddPorts was
// given for owner (its endpoint's record); ports already gone are
// success. With no ports it is DeletePorts. Callers use it when present
// and when the record is sound, DeletePorts otherwise (the nftables
// backend implements it: no read of the port maps; iptables does not).
type PortDeleter interface {
	DeletePortsOf(network, owner string, ports []Port) error
}

// DeletePortsOf is fw.DeletePortsOf(network, owner, ports) when fw is a
// PortDeleter and ports are listed, else fw.DeletePorts(network, owner).
func DeletePortsOf(fw Firewall, network, owner string, ports []Port) error {
	if d, ok := fw.(PortDeleter); ok && len(ports) > 0 {
		return d.DeletePortsOf(network, owner, ports)
	}
	return fw.DeletePorts(network, owner)
}

// Checker answers CheckNetwork and CheckEndpoint, as Firewall does, from
// one reading of the rules (Firewall.Snapshot).
type Checker interface {
	CheckNetwork(n Network) error
	CheckEndpoint(n Network, owner string, ports []Port) error
	// PortOwners lists, by network name, the owners that have published
	// ports.
	PortOwners() map[string][]string
}

// Published is the ports one owner (an endpoint id) publishes on a
// network, for EnsureAll.
type Published struct {
	Network Network
	Owner   string
	Ports   []Port
}

// CheckOnce answers CheckEndpoint with one reading of the rules (one
// Snapshot): what a backend's CheckNetwork and CheckEndpoint do.
func CheckOnce(fw interface{ Snapshot() (Checker, error) }, n Network, owner string, ports []Port) error {
	c, err := fw.Snapshot()
	if err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	return c.CheckEndpoint(n, owner, ports)
}
