package control

import (
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/portmap"
)

// Op is what a request asks.
type Op string

// The requests the daemon answers.
const (
	// OpPing asks for an empty reply: the daemon is there and answers.
	OpPing Op = "ping"
	// OpUp asks the daemon to serve endpoint Network/Endpoint as its record
	// in the state directory says: its names, the 127.0.0.11 listener in
	// its namespace, its network's gateway listener. The reply comes once
	// the names resolve.
	OpUp Op = "up"
	// OpDown asks the daemon to forget Network/Endpoint: its names stop
	// resolving before the reply, and a namespace left with no endpoint
	// loses its listener.
	OpDown Op = "down"
	// OpReap asks the daemon to delete the retired veth Reap in the
	// background.
	OpReap Op = "reap"
	// OpSync asks the daemon to serve exactly what the state directory
	// says (after network create or rm).
	OpSync Op = "sync"
	// OpRecords asks for the names served, on Network or on every network.
	OpRecords Op = "records"
	// OpHold asks the daemon to bind the host ports of Ports for
	// Network/Endpoint; the reply lists what it bound.
	OpHold Op = "hold"
	// OpRelease asks the daemon to let the host ports of Network/Endpoint go.
	OpRelease Op = "release"
	// OpListeners asks which namespaces have a 127.0.0.11 listener (the
	// reply's Namespaces, each a namespace's cookie, or inode for a record
	// written before cookies), and which of their endpoints lack their
	// default route (NoRoute, endpoint keys), as the daemon reads them on
	// the sockets it keeps in those namespaces.
	OpListeners Op = "listeners"
	// OpRemotes asks the daemon to serve the names of the remote endpoint
	// records of Network (those of other hosts of an overlay network, that
	// the cluster agent writes in the state directory), exactly.
	OpRemotes Op = "remotes"
)

// Request is one request on the control socket.
type Request struct {
	Op       Op                `json:"op"`
	Network  string            `json:"network,omitempty"`
	Endpoint string            `json:"endpoint,omitempty"`
	Ports    []portmap.Request `json:"ports,omitempty"` // OpHold
	Reap     *Reap             `json:"reap,omitempty"`  // OpReap
}

// Reply answers one Request. Error is empty on success.
type Reply struct {
	Error      string            `json:"error,omitempty"`
	Code       string            `json:"code,omitempty"`       // CodeInUse, with Error
	Records    []Record          `json:"records,omitempty"`    // OpRecords
	Ports      []portmap.Mapping `json:"ports,omitempty"`      // OpHold
	Namespaces []uint64          `json:"namespaces,omitempty"` // OpListeners
	NoRoute    []string          `json:"noRoute,omitempty"`    // OpListeners
	Held       []string          `json:"held,omitempty"`       // OpListeners: keys holding host ports
}

// Reap names a retired veth pair to delete: by its host end's name and
// index (a link made since under the same name is left alone), in the
// network namespace whose inode is NetNS (the daemon deletes only in its own).
type Reap struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	NetNS uint64 `json:"netns"`
}

// Record is one name the daemon answers, for `plumb dns ls`. IP is the
// endpoint's IPv4 address, or its IPv6 address when it has no IPv4 (an
// IPv6-only network); IP6 is its IPv6 address, empty when it has none.
type Record struct {
	Network  string `json:"network"`
	Name     string `json:"name"`
	IP       string `json:"ip"`
	IP6      string `json:"ip6,omitempty"`
	Endpoint string `json:"endpoint"`
}

// Key is the owner key of an endpoint's held ports: NETWORK/ID.
func Key(network, endpoint string) string { return network + "/" + endpoint }

// SelfNetNS is the inode of this process's network namespace, 0 if
// unknown: what a Reap names, so that only a daemon in the namespace of
// the link reaps it.
func SelfNetNS() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) != nil {
		return 0
	}
	return st.Ino
}
