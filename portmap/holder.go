package portmap

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
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

// twins groups the indexes of reqs that share one host port: an IPv4
// request with the first later IPv6 request alike in protocol, container
// port and host port range; every other request alone.
func twins(reqs []Request) [][]int {
	taken := make([]bool, len(reqs))
	var out [][]int
	for i, r := range reqs {
		if taken[i] {
			continue
		}
		group := []int{i}
		for j := i + 1; j < len(reqs) && !r.Is6(); j++ {
			o := reqs[j]
			if !taken[j] && o.Is6() && o.Proto == r.Proto && o.Port == r.Port &&
				o.HostPort == r.HostPort && o.HostPortEnd == r.HostPortEnd {
				taken[j] = true
				group = append(group, j)
				break
			}
		}
		out = append(out, group)
	}
	return out
}

// kernelPicks is how many ports the kernel may pick for a group before
// Hold gives up finding one free in every family.
const kernelPicks = 32

// bindGroup binds reqs[group...] on one host port: its one host port, the
// first of its range free for all, or (HostPort 0) one the kernel picks
// for the first that is free for the others too.
func bindGroup(reqs []Request, group []int) ([]heldPort, error) {
	r := reqs[group[0]]
	lo, hi := r.HostPort, r.HostPortEnd
	if hi < lo {
		hi = lo
	}
	var lastErr error
	for port := int(lo); port <= int(hi); port++ {
		tries := 1
		if port == 0 && len(group) > 1 {
			tries = kernelPicks
		}
		for ; tries > 0; tries-- {
			ps, err := bindAt(reqs, group, uint16(port))
			if err == nil {
				return ps, nil
			}
			lastErr = err
			if !errors.Is(err, ErrInUse) {
				return nil, err
			}
		}
	}
	if hi > lo {
		lastErr = fmt.Errorf("publishing %s-%d/%s: %w", hostPort(r.HostIP, lo), hi, r.Proto, errors.Unwrap(lastErr))
	}
	return nil, lastErr
}

// bindAt binds reqs[group...] on port, all on the port the first gets
// when port is 0; if one fails it unbinds the others.
func bindAt(reqs []Request, group []int, port uint16) ([]heldPort, error) {
	var out []heldPort
	for _, i := range group {
		r := reqs[i]
		p, err := bindOne(r.Proto, r.HostIP, port, r.Forward.IsValid())
		if err != nil {
			for _, o := range out {
				o.close()
			}
			return nil, fmt.Errorf("publishing %s/%s: %w", hostPort(r.HostIP, port), r.Proto, err)
		}
		p.Port = r.Port
		port = p.HostPort
		out = append(out, p)
	}
	return out, nil
}

// hostPort is "0.0.0.0:80" or "[::1]:80"; the zero ip is 0.0.0.0.
func hostPort(ip netip.Addr, port uint16) string {
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(ip, port).String()
}

// bindOne is `socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM)` +
// `bind(ip:port)`, IPV6_V6ONLY for IPv6, and SO_REUSEADDR for a TCP
// socket that will listen (relay): its listening keeps other binds off,
// and a port it relayed on can be held again while its closed
// connections linger in TIME_WAIT.
func bindOne(proto string, ip netip.Addr, port uint16, relay bool) (heldPort, error) {
	fd, sa, err := socketFor(proto, ip, port, relay)
	if err != nil {
		return heldPort{}, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			return heldPort{}, ErrInUse
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return heldPort{}, fmt.Errorf("%s is not an address of this host", ip)
		}
		return heldPort{}, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return heldPort{}, err
	}
	p := heldPort{fd: fd, Mapping: Mapping{Proto: proto, HostPort: port}}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		p.HostPort = uint16(a.Port)
	case *unix.SockaddrInet6:
		p.HostPort = uint16(a.Port)
	}
	if ip.Is6() || !ip.IsUnspecified() {
		p.HostIP = ip // :: stays, to say IPv6
	}
	return p, nil
}

// socketFor opens the socket for proto on ip's family, and the address
// to bind it to.
func socketFor(proto string, ip netip.Addr, port uint16, relay bool) (int, unix.Sockaddr, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	switch {
	case !ip.IsValid():
		sa = &unix.SockaddrInet4{Port: int(port)}
	case ip.Is6():
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Addr: ip.As16(), Port: int(port)}
	default:
		sa = &unix.SockaddrInet4{Addr: ip.As4(), Port: int(port)}
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	if family == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err == nil && relay && typ == unix.SOCK_STREAM {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, sa, nil
}
