package network

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/portmap"
)

// Network is a plumb network's configuration, as stored in network.json.
type Network struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Driver string `json:"driver"`
	Bridge string `json:"bridge"`
	// Subnet, Gateway and IPRange are the IPv4 side; Subnet is zero for
	// an IPv6-only network (--ipv4=false).
	Subnet  netip.Prefix `json:"subnet,omitzero"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	IPRange netip.Prefix `json:"ipRange,omitzero"`
	// Subnet6, Gateway6 and IPRange6 are the IPv6 side (--ipv6); Subnet6
	// is zero for an IPv4-only network. Gateway6 is zero when the IPv6
	// gateway mode is isolated.
	Subnet6    netip.Prefix `json:"subnet6,omitzero"`
	Gateway6   netip.Addr   `json:"gateway6,omitzero"`
	IPRange6   netip.Prefix `json:"ipRange6,omitzero"`
	MTU        int          `json:"mtu"`
	Internal   bool         `json:"internal"`
	ICC        bool         `json:"icc"`
	Masquerade bool         `json:"masquerade"`
	// GatewayMode4 and GatewayMode6 are each family's gateway mode
	// (firewall.ModeNAT, ...); "" is nat.
	GatewayMode4 string    `json:"gatewayModeIPv4,omitempty"`
	GatewayMode6 string    `json:"gatewayModeIPv6,omitempty"`
	Created      time.Time `json:"created"`
	// VNI and Blocks are an overlay network's (Driver DriverOverlay, made
	// by Materialize): its VXLAN network identifier, the same on every
	// host, and the address blocks of Subnet this host owns, which attach
	// allocates in (overlay.go).
	VNI    uint32         `json:"vni,omitempty"`
	Blocks []netip.Prefix `json:"blocks,omitempty"`
}

// IPv4 reports whether the network has IPv4 (all but --ipv4=false).
func (n *Network) IPv4() bool { return n.Subnet.IsValid() }

// IPv6 reports whether the network has IPv6 (--ipv6).
func (n *Network) IPv6() bool { return n.Subnet6.IsValid() }

// KindCNI is the Endpoint.Kind of an attachment made through the CNI
// plugin. Such an endpoint has no hosts or resolv.conf file of plumb's (the
// runtime writes those from the CNI result) and no 127.0.0.11 listener:
// the runtime's resolv.conf names the gateway listener.
const KindCNI = "cni"

// PortSpec is one `-p` value, Docker's
// [HOSTIP:][HOSTPORT[-END]:]PORT[-END][/PROTO] (package portmap).
type PortSpec = portmap.Spec

// PublishedPort is one published port as recorded (package portmap).
type PublishedPort = portmap.Mapping

// Endpoint is one target attached to one network, as stored in
// endpoints/<id>.json. Its ID is stable for the target: the Docker container
// id, or the device and inode of the network namespace.
type Endpoint struct {
	ID            string          `json:"id"`
	Network       string          `json:"network"`
	Target        string          `json:"target"`
	Kind          string          `json:"kind"`
	ContainerID   string          `json:"containerId,omitempty"`
	ContainerName string          `json:"containerName,omitempty"`
	Hostname      string          `json:"hostname,omitempty"`
	PID           int             `json:"pid,omitempty"`
	NetNS         string          `json:"netns"`
	NetNSInode    uint64          `json:"netnsInode"`
	NetNSCookie   uint64          `json:"netnsCookie,omitempty"` // never reused, unlike the inode
	IP            netip.Prefix    `json:"ip,omitzero"`           // zero on an IPv6-only network
	IP6           netip.Prefix    `json:"ip6,omitzero"`          // zero on an IPv4-only network
	MAC           string          `json:"mac"`
	HostVeth      string          `json:"hostVeth"`
	IfName        string          `json:"ifname"`
	DefaultRoute  bool            `json:"defaultRoute"`
	DefaultRoute6 bool            `json:"defaultRoute6,omitempty"`
	Aliases       []string        `json:"aliases,omitempty"`
	HostsFile     string          `json:"hostsFile,omitempty"`
	ResolvFile    string          `json:"resolvFile,omitempty"`
	Links         []string        `json:"links,omitempty"`
	Ports         []PublishedPort `json:"ports,omitempty"`
	Created       time.Time       `json:"created"`
	// StaleSince is when the daemon found the endpoint's namespace gone
	// and let its published ports go (MarkStale); zero while it lives.
	StaleSince time.Time `json:"staleSince,omitzero"`
}

// Addr is the endpoint's address to show: its IPv4 one, or its IPv6 one
// on an IPv6-only network.
func (e *Endpoint) Addr() netip.Addr {
	if e.IP.IsValid() {
		return e.IP.Addr()
	}
	return e.IP6.Addr()
}

// Addrs are the endpoint's addresses: IPv4, then IPv6, those it has.
func (e *Endpoint) Addrs() []netip.Prefix {
	out := make([]netip.Prefix, 0, 2)
	for _, p := range []netip.Prefix{e.IP, e.IP6} {
		if p.IsValid() {
			out = append(out, p)
		}
	}
	return out
}

// Names are the names the endpoint answers to on its network, in order:
// container name, hostname, aliases, without duplicates.
func (e *Endpoint) Names() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range append([]string{e.ContainerName, e.Hostname}, e.Aliases...) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// DNSNames are what the endpoint answers to in the name service: its
// Names, and the short container id, as Docker's embedded DNS does.
func (e *Endpoint) DNSNames() []string {
	names := e.Names()
	if len(e.ContainerID) >= 12 {
		names = append(names, e.ContainerID[:12])
	}
	return names
}

// Alive reports whether the endpoint's namespace file still has the inode
// of the namespace it was attached in: cheap, but a namespace made since
// at the same path may have been given that inode again. SameNS, from an
// open namespace, is the exact test. Equivalent to: `stat -L -c %i NETNS`.
func (e *Endpoint) Alive() bool {
	var st unix.Stat_t
	return unix.Stat(e.NetNS, &st) == nil && st.Ino == e.NetNSInode
}

// SameNS reports whether ns is the namespace the endpoint was attached in:
// by cookie, or by inode for a record written before cookies.
func (e *Endpoint) SameNS(ns Namespace) bool {
	if e.NetNSCookie != 0 {
		c, err := ns.Cookie()
		return err == nil && c == e.NetNSCookie
	}
	return ns.Inode() == e.NetNSInode
}

// NamespaceKey identifies the endpoint's namespace for the daemon: its
// cookie, or its inode for a record written before cookies.
func (e *Endpoint) NamespaceKey() uint64 {
	if e.NetNSCookie != 0 {
		return e.NetNSCookie
	}
	return e.NetNSInode
}

// Stale reports whether the endpoint's network namespace is gone (the
// container stopped or restarted, the process exited, the netns was
// deleted): its record outlives it until a detach, or a re-attach of the
// same target, which gets the same address back.
func (e *Endpoint) Stale() bool { return !e.Alive() }

// CreateOptions are the parameters of a new network. Zero values take the
// defaults of Create.
type CreateOptions struct {
	Name       string
	Subnet     netip.Prefix
	Gateway    netip.Addr
	IPRange    netip.Prefix
	Bridge     string
	MTU        int
	Internal   bool
	ICC        bool
	Masquerade bool
	// IPv6 asks for an IPv6 side: Subnet6 (or a ULA /64 derived from the
	// network id), Gateway6, IPRange6. NoIPv4 (--ipv4=false) asks for
	// none of IPv4, and needs IPv6.
	IPv6     bool
	NoIPv4   bool
	Subnet6  netip.Prefix
	Gateway6 netip.Addr
	IPRange6 netip.Prefix
	// GatewayMode4 and GatewayMode6: firewall.ModeNAT ("") and the others.
	GatewayMode4, GatewayMode6 string
}

// AttachOptions are the parameters of an attach.
type AttachOptions struct {
	Network string
	IP      netip.Addr // static address; zero for the next free one
	IP6     netip.Addr // static IPv6 address (--ip6); zero for the next free one
	MAC     string     // empty for the 02:42:… MAC derived from the IP
	IfName  string     // empty for eth0 or the next free ethN
	Aliases []string
	Links   []string   // NAME[:ALIAS] of endpoints on the same network, written to /etc/hosts
	Publish []PortSpec // -p: host ports to publish
	// Check, when set, is run on the network's config under the network's
	// lock before anything is changed; its error fails the attach (the CNI
	// plugin refuses a config that contradicts the network).
	Check func(*Network) error
	// Repair, when set, is the id of the endpoint this attach makes whole
	// again: when, under the network's lock, the network has no record of
	// it any more (it was detached meanwhile), the attach does nothing and
	// returns ErrNotAttached. A repair never brings back what a detach
	// took away.
	Repair string
}
