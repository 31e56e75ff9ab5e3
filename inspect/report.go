package inspect

import (
	"net/netip"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
)

// Section is one part of the report: what was found, the command that
// shows the same by hand, and why it could not be read, if it could not.
type Section[T any] struct {
	Items   T      `json:"items"`
	Command string `json:"command"`
	Error   string `json:"error,omitempty"`
}

// Report is the whole of `plumb inspect TARGET`.
type Report struct {
	Target     Target                       `json:"target"`
	Namespace  Section[Namespace]           `json:"namespace"`
	Interfaces Section[[]Interface]         `json:"interfaces"`
	Routes     Section[[]nsview.Route]      `json:"routes"`
	Neighbours Section[[]nsview.Neighbour]  `json:"neighbours"`
	Listening  Section[[]nsview.Socket]     `json:"listening"`
	ResolvConf Section[File]                `json:"resolvConf"`
	Hosts      Section[File]                `json:"hosts"`
	Attached   bool                         `json:"attached"` // plumb attached it to a network
	Endpoints  Section[[]*network.Endpoint] `json:"endpoints"`
	DNS        Section[[]DNSNames]          `json:"dns"`
	Firewall   Section[[]Rule]              `json:"firewall"`
}

// Target is who the target is, as the resolver found it.
type Target struct {
	Spec          string `json:"spec"`
	Kind          string `json:"kind"`
	PID           int    `json:"pid,omitempty"`
	ContainerID   string `json:"containerId,omitempty"`
	ContainerName string `json:"containerName,omitempty"`
	Hostname      string `json:"hostname,omitempty"`
}

// Namespace is the target's network namespace (lsns's view).
type Namespace struct {
	Path      string           `json:"path"`
	Inode     uint64           `json:"inode"`
	Processes []nsview.Process `json:"processes"`
}

// Interface is one interface inside the namespace with, for a veth whose
// other end is in the host's namespace, that end and its bridge.
type Interface struct {
	nsview.Link
	HostPeer *HostPeer `json:"hostPeer,omitempty"`
}

// HostPeer is the host end of a veth.
type HostPeer struct {
	Name   string `json:"name"`
	Index  int    `json:"index"`
	Bridge string `json:"bridge,omitempty"`
}

// File is one of the target's name-service files as the target sees it.
// Path is where the host finds it; Note says when it is not the target's
// own (a netns without /etc/netns/NAME/FILE sees the host's).
type File struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	Note    string `json:"note,omitempty"`
}

// DNSNames is what plumb's name service says of the target on one
// network: the names it answers for the target (A with IP, AAAA with
// IP6; either may be zero), and the other names the target can resolve
// there.
type DNSNames struct {
	Network  string     `json:"network"`
	IP       netip.Addr `json:"ip"`
	IP6      netip.Addr `json:"ip6,omitzero"`
	Names    []string   `json:"names"`
	Resolves []string   `json:"resolves"`
	Source   string     `json:"source"` // "daemon" or "state" (daemon not running)
}

// Rule is one firewall rule that applies to the target, with its iptables
// (ip6tables) command text, or the nftables element; for a port published
// on [::1], which no rule serves, what does.
type Rule struct {
	Network string `json:"network"`
	Why     string `json:"why"` // "published port", "network" or "forward"
	Rule    string `json:"rule"`
}
