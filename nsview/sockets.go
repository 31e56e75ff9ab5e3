package nsview

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Socket is one listening socket of a namespace and the process that holds
// it. PID is 0 and Command "" when no process of the namespace holds it
// (a socket passed to a process in another namespace, or one closing).
type Socket struct {
	Proto   string         `json:"proto"` // "tcp", "udp", "tcp6", "udp6"
	Local   netip.AddrPort `json:"local"`
	PID     int            `json:"pid,omitempty"`
	Command string         `json:"command,omitempty"`
}

// tcpListen and udpUnconn are the kernel's TCP_LISTEN and TCP_CLOSE
// states: a listening TCP socket, a bound UDP socket with no peer.
const (
	tcpListen = 10
	udpUnconn = 7
)

// Listening lists the TCP sockets in LISTEN and the bound, unconnected UDP
// sockets of the namespace at nsPath, IPv4 then IPv6, by protocol and
// port, each with its owner among the namespace's processes (matched by
// socket inode against /proc/PID/fd). It reads NETLINK_SOCK_DIAG from a
// socket opened inside the namespace: nothing runs in it.
// Equivalent to: `nsenter --net=PATH ss -tulnp`.
func Listening(nsPath string) ([]Socket, error) {
	h, err := handleAt(nsPath, unix.NETLINK_INET_DIAG)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var raw []rawSocket
	for _, q := range diagQueries(h) {
		socks, err := q.dump(q.family)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, fmt.Errorf("reading %s sockets in %s: %w", q.proto, nsPath, err)
		}
		for _, s := range socks {
			if s.State == q.state {
				raw = append(raw, rawSocket{q.proto, s})
			}
		}
	}
	procs, err := Processes(nsPath)
	if err != nil {
		return nil, err
	}
	return ownSockets(raw, socketOwners(procs)), nil
}

type rawSocket struct {
	proto string
	s     *netlink.Socket
}

type diagQuery struct {
	proto  string
	family uint8
	state  uint8
	dump   func(uint8) ([]*netlink.Socket, error)
}

func diagQueries(h *netlink.Handle) []diagQuery {
	return []diagQuery{
		{"tcp", unix.AF_INET, tcpListen, h.SocketDiagTCP},
		{"udp", unix.AF_INET, udpUnconn, h.SocketDiagUDP},
		{"tcp6", unix.AF_INET6, tcpListen, h.SocketDiagTCP},
		{"udp6", unix.AF_INET6, udpUnconn, h.SocketDiagUDP},
	}
}

// ownSockets turns the kernel's answers into Sockets with their owners,
// sorted by protocol, port, address.
func ownSockets(raw []rawSocket, owners map[uint32]Process) []Socket {
	out := make([]Socket, 0, len(raw))
	for _, r := range raw {
		addr, _ := netip.AddrFromSlice(r.s.ID.Source)
		if r.proto == "tcp" || r.proto == "udp" {
			addr = addr.Unmap()
		}
		s := Socket{Proto: r.proto, Local: netip.AddrPortFrom(addr, r.s.ID.SourcePort)}
		if p, ok := owners[r.s.INode]; ok {
			s.PID, s.Command = p.PID, p.Command
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Proto != b.Proto {
			return a.Proto < b.Proto
		}
		if a.Local.Port() != b.Local.Port() {
			return a.Local.Port() < b.Local.Port()
		}
		return a.Local.Addr().Less(b.Local.Addr())
	})
	return out
}
