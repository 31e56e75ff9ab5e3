package portmap

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// udpRelay is a held UDP socket that relays datagrams to target, as
// docker-proxy does: each client address is a flow with its own socket
// connected to the target; what the target sends back on it goes to the
// client from the held socket, so the client sees replies from the address
// it sent to. A flow ends after idle without a datagram either way.
type udpRelay struct {
	pc       *net.UDPConn
	target   netip.AddrPort
	loopOnly bool
	idle     time.Duration
	epoch    time.Time // flows' last-use times are monotonic offsets from it
	wg       sync.WaitGroup

	mu     sync.Mutex
	flows  map[netip.AddrPort]*udpFlow
	closed bool
}

type udpFlow struct {
	conn *net.UDPConn // connected to the target
	last atomic.Int64 // the last datagram either way, since epoch
}

// newUDPRelay starts relaying on the bound socket fd; it owns fd. With
// loopOnly it asks the kernel for each datagram's destination
// (IPV6_RECVPKTINFO, IP_PKTINFO) to relay only those sent to loopback.
func newUDPRelay(fd int, v6 bool, target netip.AddrPort, loopOnly bool, idle time.Duration) (*udpRelay, error) {
	if loopOnly {
		var err error
		if v6 {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		} else {
			err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		}
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	pc, err := fileConn(fd, net.FilePacketConn)
	if err != nil {
		return nil, err
	}
	u := &udpRelay{pc: pc.(*net.UDPConn), target: target, loopOnly: loopOnly, idle: idle,
		epoch: time.Now(), flows: map[netip.AddrPort]*udpFlow{}}
	u.wg.Add(1)
	go u.serve()
	return u, nil
}

// Close stops reading, ends every flow and returns once the relay's
// goroutines have ended: the port is free.
func (u *udpRelay) Close() error {
	u.mu.Lock()
	u.closed = true
	flows := u.flows
	u.flows = nil
	u.mu.Unlock()
	err := u.pc.Close()
	for _, f := range flows {
		f.conn.Close()
	}
	u.wg.Wait()
	return err
}

func (u *udpRelay) now() int64 { return int64(time.Since(u.epoch)) }

// serve relays client datagrams to the target, through each client's flow.
// A datagram that cannot be relayed (no flow to be had, the target
// unreachable) is dropped, as the network would.
func (u *udpRelay) serve() {
	defer u.wg.Done()
	buf, oob := make([]byte, 65536), make([]byte, 256)
	for {
		n, oobn, _, from, err := u.pc.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if closedErr(err) {
				return
			}
			continue
		}
		if u.loopOnly && !sentToLoopback(oob[:oobn]) {
			continue
		}
		if f := u.flow(from); f != nil {
			f.last.Store(u.now())
			f.conn.Write(buf[:n])
		}
	}
}

// flow is client's flow, a new one when it has none; nil when the relay
// is closed, at MaxUDPFlows, or cannot reach the target.
func (u *udpRelay) flow(client netip.AddrPort) *udpFlow {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	if f := u.flows[client]; f != nil {
		return f
	}
	if len(u.flows) >= MaxUDPFlows {
		return nil
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(u.target))
	if err != nil {
		return nil
	}
	f := &udpFlow{conn: c}
	f.last.Store(u.now())
	u.flows[client] = f
	u.wg.Add(1)
	go u.replies(client, f)
	return f
}

// replies sends what the target sends on f back to client, until f has
// been idle for u.idle or is closed. An ICMP error the target's host sent
// (ECONNREFUSED) leaves the flow: the next datagram tries again.
func (u *udpRelay) replies(client netip.AddrPort, f *udpFlow) {
	defer u.wg.Done()
	defer u.drop(client, f)
	buf := make([]byte, 65536)
	for {
		last := f.last.Load()
		f.conn.SetReadDeadline(time.Now().Add(time.Duration(last) + u.idle - time.Duration(u.now())))
		n, err := f.conn.Read(buf)
		switch {
		case err == nil:
			f.last.Store(u.now())
			u.pc.WriteToUDPAddrPort(buf[:n], client)
		case errors.Is(err, os.ErrDeadlineExceeded):
			if f.last.Load() == last {
				return
			}
		case closedErr(err):
			return
		}
	}
}

// drop ends client's flow f.
func (u *udpRelay) drop(client netip.AddrPort, f *udpFlow) {
	u.mu.Lock()
	if u.flows[client] == f {
		delete(u.flows, client)
	}
	u.mu.Unlock()
	f.conn.Close()
}

// sentToLoopback reports whether the control messages oob (from
// IPV6_RECVPKTINFO or IP_PKTINFO) say the datagram was sent to a loopback
// address. No such message: false.
func sentToLoopback(oob []byte) bool {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return false
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= 16:
			return isLoopback(netip.AddrFrom16([16]byte(m.Data[:16])))
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= 12:
			// struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
			return isLoopback(netip.AddrFrom4([4]byte(m.Data[8:12])))
		}
	}
	return false
}
