package network

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// portHolder reserves published host ports the way docker-proxy does: a
// socket bound to HOSTIP:PORT for each, held by the daemon for as long as
// the mapping exists. The sockets are bound without SO_REUSEADDR and never
// listen or read (the DNAT rules take the traffic before it reaches them),
// so that no other process can bind the port, and a port some process
// already holds is refused.
type portHolder struct {
	mu   sync.Mutex
	held map[string][]heldPort // by endpoint key, network/id
}

type heldPort struct {
	PublishedPort
	fd int
}

func newPortHolder() *portHolder { return &portHolder{held: map[string][]heldPort{}} }

// hold binds a host port for each request, for the endpoint key, and
// returns what it bound. Ports key held before are released first, so a
// repeated hold replaces. On error nothing of this call stays bound.
func (h *portHolder) hold(key string, reqs []portRequest) ([]PublishedPort, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(key)
	var got []heldPort
	for _, r := range reqs {
		p, err := bindPort(r)
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
	out := make([]PublishedPort, len(got))
	for i, g := range got {
		out[i] = g.PublishedPort
	}
	return out, nil
}

// release closes the sockets of key; nothing held is success.
func (h *portHolder) release(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked(key)
}

func (h *portHolder) releaseLocked(key string) {
	for _, p := range h.held[key] {
		unix.Close(p.fd)
	}
	delete(h.held, key)
}

// has reports whether key holds ports.
func (h *portHolder) has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held[key]) > 0
}

// keys lists the endpoints holding ports.
func (h *portHolder) keys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.held))
	for k := range h.held {
		out = append(out, k)
	}
	return out
}

func (h *portHolder) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.held {
		h.releaseLocked(k)
	}
}

// errPortInUse is what a bind of a taken port reports.
var errPortInUse = errors.New("port is already in use")

// bindPort binds one socket for r: its one host port, the first free one
// of its range, or (HostPort 0) one the kernel picks.
func bindPort(r portRequest) (heldPort, error) {
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
		if !errors.Is(err, errPortInUse) {
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
			return heldPort{}, errPortInUse
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
	p := heldPort{fd: fd, PublishedPort: PublishedPort{Proto: proto, HostPort: port}}
	if in4, ok := sa.(*unix.SockaddrInet4); ok {
		p.HostPort = uint16(in4.Port)
	}
	if !ip.IsUnspecified() {
		p.HostIP = ip
	}
	return p, nil
}

// portKey names an endpoint's holding: network/id.
func portKey(ep *Endpoint) string { return ep.Network + "/" + ep.ID }

// syncPorts makes the holder hold exactly the recorded ports of eps: a
// daemon started again takes back every port it held, and a port whose
// endpoint is gone is let go.
func (d *daemon) syncPorts(eps []*Endpoint) {
	want := map[string]bool{}
	for _, ep := range eps {
		key := portKey(ep)
		want[key] = true
		if d.ports.has(key) {
			continue
		}
		var reqs []portRequest
		for _, p := range ep.Ports {
			reqs = append(reqs, portRequest{Proto: p.Proto, HostIP: p.HostIP, HostPort: p.HostPort, HostPortEnd: p.HostPort, Port: p.Port})
		}
		if _, err := d.ports.hold(key, reqs); err != nil {
			log.Printf("plumb daemon: endpoint %s: %v", key, err)
		}
	}
	for _, key := range d.ports.keys() {
		if !want[key] {
			d.ports.release(key)
		}
	}
}
