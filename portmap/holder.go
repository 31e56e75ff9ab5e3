package portmap

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrInUse is what holding a port some socket already has reports.
var ErrInUse = errors.New("port is already in use")

// Holder reserves published host ports the way docker-proxy does: a socket
// bound to HOSTIP:PORT for each, held for as long as the mapping exists.
// The sockets are bound without SO_REUSEADDR and never listen or read (the
// DNAT rules take the traffic before it reaches them), so that no other
// process can bind the port, and a port some process already holds is
// refused. It is safe for concurrent use.
type Holder struct {
	mu   sync.Mutex
	held map[string][]heldPort // by owner key
}

type heldPort struct {
	Mapping
	fd int
}

// NewHolder returns a Holder that holds nothing.
func NewHolder() *Holder { return &Holder{held: map[string][]heldPort{}} }

// Hold binds a host port for each request, for owner key, and returns what
// it bound. Ports key held before are released first, so a repeated Hold
// replaces. On error nothing of this call stays bound. Equivalent to, per
// request: `socket(AF_INET, SOCK_STREAM or SOCK_DGRAM); bind(HOSTIP:PORT)`.
func (h *Holder) Hold(key string, reqs []Request) ([]Mapping, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(key)
	var got []heldPort
	for _, r := range reqs {
		p, err := bindRequest(r)
		if err != nil {
			for _, g := range got {
				unix.Close(g.fd)
			}
			return nil, err
		}
		got = append(got, p)
	}
	if len(got) == 0 {
		return nil, nil
	}
	h.held[key] = got
	out := make([]Mapping, len(got))
	for i, g := range got {
		out[i] = g.Mapping
	}
	return out, nil
}

// Release closes the sockets of key; nothing held is success.
func (h *Holder) Release(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(key)
}

func (h *Holder) releaseLocked(key string) {
	for _, p := range h.held[key] {
		unix.Close(p.fd)
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

// bindRequest binds one socket for r: its one host port, the first free
// one of its range, or (HostPort 0) one the kernel picks.
func bindRequest(r Request) (heldPort, error) {
	ip := r.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	lo, hi := r.HostPort, r.HostPortEnd
	if hi < lo {
		hi = lo
	}
	var lastErr error
	for port := int(lo); port <= int(hi); port++ {
		p, err := bindOne(r.Proto, ip, uint16(port))
		if err == nil {
			p.Port = r.Port
			return p, nil
		}
		lastErr = err
		if !errors.Is(err, ErrInUse) {
			break
		}
	}
	what := fmt.Sprintf("%s:%d", ip, lo)
	if hi > lo {
		what = fmt.Sprintf("%s:%d-%d", ip, lo, hi)
	}
	return heldPort{}, fmt.Errorf("publishing %s/%s: %w", what, r.Proto, lastErr)
}

// bindOne is `socket(AF_INET, SOCK_STREAM or SOCK_DGRAM)` + `bind(ip:port)`.
func bindOne(proto string, ip netip.Addr, port uint16) (heldPort, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return heldPort{}, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: ip.As4(), Port: int(port)}); err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			return heldPort{}, ErrInUse
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return heldPort{}, fmt.Errorf("%s is not an address of this host", ip)
		}
		return heldPort{}, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return heldPort{}, err
	}
	p := heldPort{fd: fd, Mapping: Mapping{Proto: proto, HostPort: port}}
	if in4, ok := sa.(*unix.SockaddrInet4); ok {
		p.HostPort = uint16(in4.Port)
	}
	if !ip.IsUnspecified() {
		p.HostIP = ip
	}
	return p, nil
}
