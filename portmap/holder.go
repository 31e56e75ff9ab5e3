package portmap

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrInUse is what holding a port some socket already has reports.
var ErrInUse = errors.New("port is already in use")

// Holder reserves published host ports the way docker-proxy does: a socket
// bound to HOSTIP:PORT for each, held for as long as the mapping exists.
// The sockets are bound without SO_REUSEADDR and never listen or read (the
// DNAT rules take the traffic before it reaches them), so that no other
// process can bind the port, and a port some process already holds is
// refused. An IPv6 socket is IPV6_V6ONLY: [::]:P and 0.0.0.0:P are two
// holds. The one exception is a request with a Forward target: its socket
// listens (TCP) or reads (UDP) and relays what reaches it to the target,
// docker-proxy's other job, for the host's own ::1 that DNAT cannot serve
// (Request.NeedsProxy). A listening socket is bound with SO_REUSEADDR:
// listening keeps every other bind off the port all the same, and the port
// can be held again while relayed connections linger in TIME_WAIT. It is
// safe for concurrent use.
type Holder struct {
	// UDPIdle ends a relayed UDP flow after this long without a datagram
	// either way; 0 is DefaultUDPIdle. Set it before the first Hold.
	UDPIdle time.Duration

	mu   sync.Mutex
	held map[string][]heldPort // by owner key
}

// DefaultUDPIdle is how long a relayed UDP flow lives without traffic,
// docker-proxy's 90 s.
const DefaultUDPIdle = 90 * time.Second

type heldPort struct {
	Mapping
	fd    int       // the bound socket while no relay owns it
	relay io.Closer // the relay that owns the socket, for a Forward request
}

// close lets the port go: the bare socket, or the relay with its
// connections.
func (p heldPort) close() {
	if p.relay != nil {
		p.relay.Close()
		return
	}
	unix.Close(p.fd)
}

// NewHolder returns a Holder that holds nothing.
func NewHolder() *Holder { return &Holder{held: map[string][]heldPort{}} }

// Hold binds a host port for each request, for owner key, and returns what
// it bound, in the order of reqs. Ports key held before are released
// first, so a repeated Hold replaces. An IPv4 request and a later IPv6 one
// alike in all but the address (RequestsFor's twins) get one host port, as
// Docker gives -p 80 on a dual-stack network: the first free one of their
// range for both families. A request with Forward relays as it holds (see
// Holder). On error nothing of this call stays bound or relays. Equivalent
// to, per request: `socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM);
// bind(HOSTIP:PORT)`, and with Forward `listen()` and docker-proxy's
// relay.
func (h *Holder) Hold(key string, reqs []Request) ([]Mapping, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(key)
	got, err := h.holdAll(reqs)
	if err != nil || len(got) == 0 {
		return nil, err
	}
	h.held[key] = got
	out := make([]Mapping, len(got))
	for i, g := range got {
		out[i] = g.Mapping
	}
	return out, nil
}

// holdAll binds reqs, twins together, then starts their relays; on error
// it lets all go.
func (h *Holder) holdAll(reqs []Request) ([]heldPort, error) {
	got := make([]heldPort, len(reqs))
	for i := range got {
		got[i].fd = -1
	}
	undo := func() {
		for _, g := range got {
			if g.relay != nil || g.fd >= 0 {
				g.close()
			}
		}
	}
	for _, group := range twins(reqs) {
		ps, err := bindGroup(reqs, group)
		if err != nil {
			undo()
			return nil, err
		}
		for j, i := range group {
			got[i] = ps[j]
		}
	}
	for i, r := range reqs {
		if !r.Forward.IsValid() {
			continue
		}
		rl, err := h.startRelay(got[i].fd, r)
		got[i].fd = -1 // the relay owns it now, or closed it
		if err != nil {
			undo()
			return nil, fmt.Errorf("publishing %s: relay to %s: %w", got[i].Mapping, r.Forward, err)
		}
		got[i].relay = rl
	}
	return got, nil
}

// Release closes the sockets of key; nothing held is success.
func (h *Holder) Release(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(key)
}

func (h *Holder) releaseLocked(key string) {
	for _, p := range h.held[key] {
		p.close()
	}
	delete(h.held, key)
}

// Held returns the mappings key holds, nil when none.
func (h *Holder) Held(key string) []Mapping {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Mapping
	for _, p := range h.held[key] {
		out = append(out, p.Mapping)
	}
	return out
}

// Keys lists the owners holding ports.
func (h *Holder) Keys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.held))
	for k := range h.held {
		out = append(out, k)
	}
	return out
}

// Close releases every port.
func (h *Holder) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.held {
		h.releaseLocked(k)
	}
}
