package dns

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysBatch holds recvmmsg's and sendmmsg's headers for a batch. The
// pointers in them point into the same batch (heap memory, which does not
// move), set once by init.
type sysBatch struct {
	rhdr [batchSize]unix.Mmsghdr
	riov [batchSize]unix.Iovec
	addr [batchSize]unix.RawSockaddrInet6 // big enough for either family
	whdr [batchSize]unix.Mmsghdr
	wiov [batchSize]unix.Iovec
}

func (s *sysBatch) init(b *batch) {
	for i := range batchSize {
		s.riov[i].Base = &b.in[i][0]
		s.riov[i].SetLen(udpReadSize)
		h := &s.rhdr[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&s.addr[i]))
		h.Iov = &s.riov[i]
		h.SetIovlen(1)
	}
}

// newBatchConn returns the fastest batchConn for pc: recvmmsg and sendmmsg
// on its socket when pc is one, else one datagram at a time.
func newBatchConn(pc net.PacketConn) batchConn {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return &plainConn{pc: pc}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return &plainConn{pc: pc}
	}
	c := &mmsgConn{rc: rc}
	c.readFn, c.writeFn = c.tryRead, c.tryWrite // once: no allocation per call
	return c
}

// mmsgConn reads and writes batches with recvmmsg(2) and sendmmsg(2) on a
// non-blocking UDP socket, waiting in Go's netpoller (syscall.RawConn)
// when there is nothing to read or no room to write. One goroutine uses
// it at a time.
type mmsgConn struct {
	rc               syscall.RawConn
	readFn, writeFn  func(fd uintptr) bool
	b                *batch // the batch of the call in progress
	n, sent, pending int
	errno            syscall.Errno
}

func (c *mmsgConn) readBatch() (*batch, int, error) {
	c.b, c.n, c.errno = nil, 0, 0
	if err := c.rc.Read(c.readFn); err != nil {
		return nil, 0, err
	}
	if c.errno != 0 {
		return nil, 0, &net.OpError{Op: "recvmmsg", Net: "udp", Err: c.errno}
	}
	b, n := c.b, c.n
	c.b = nil
	return b, n, nil
}

// tryRead is one recvmmsg into a batch from the pool. It returns false to
// wait for the socket to become readable, having put the batch back.
func (c *mmsgConn) tryRead(fd uintptr) bool {
	b := getBatch()
	s := &b.sys
	for {
		for i := range batchSize { // the kernel wrote the last call's lengths there
			s.rhdr[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			s.rhdr[i].Hdr.Flags = 0
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rhdr[0])), batchSize, 0, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			putBatch(b)
			return false
		default:
			putBatch(b)
			c.errno = e
			return true
		}
		n := 0
		for i := range min(int(r), batchSize) {
			from, ok := sockaddrPort(&s.addr[i], s.rhdr[i].Hdr.Namelen)
			if !ok {
				continue // not an IP sender: no one the handler could answer
			}
			size := min(int(s.rhdr[i].Len), udpReadSize)
			if n != i { // keep the batch dense; the reply's address is addr[n]
				s.addr[n] = s.addr[i]
				s.rhdr[n].Hdr.Namelen = s.rhdr[i].Hdr.Namelen
				copy(b.in[n][:size], b.in[i][:size])
			}
			b.pkts[n] = packet{n: size, from: from}
			n++
		}
		if n == 0 {
			continue // every datagram was dropped: read again
		}
		c.b, c.n = b, n
		return true
	}
}

// sockaddrPort reads the address and port of an AF_INET or AF_INET6
// sockaddr of length l.
func sockaddrPort(sa *unix.RawSockaddrInet6, l uint32) (netip.AddrPort, bool) {
	switch sa.Family {
	case unix.AF_INET:
		if l < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port)), true
	case unix.AF_INET6:
		if l < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// ntohs reads a port as the kernel stores it: in network byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func (c *mmsgConn) writeBatch(b *batch, n int) error {
	s := &b.sys
	k := 0
	for i := range n {
		p := &b.pkts[i]
		if p.reply <= 0 {
			continue
		}
		s.wiov[k].Base = &b.out[i][0]
		s.wiov[k].SetLen(p.reply)
		h := &s.whdr[k].Hdr
		h.Name = (*byte)(unsafe.Pointer(&s.addr[i]))
		h.Namelen = s.rhdr[i].Hdr.Namelen
		h.Iov = &s.wiov[k]
		h.SetIovlen(1)
		k++
	}
	if k == 0 {
		return nil
	}
	c.b, c.sent, c.pending = b, 0, k
	err := c.rc.Write(c.writeFn)
	c.b = nil
	return err
}

// tryWrite sends what is left of the batch with sendmmsg. It returns false
// to wait for room in the socket's buffer. A datagram the kernel refuses
// (sendmmsg fails on it first) is skipped.
func (c *mmsgConn) tryWrite(fd uintptr) bool {
	s := &c.b.sys
	for c.sent < c.pending {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.whdr[c.sent])), uintptr(c.pending-c.sent), 0, 0, 0)
		switch e {
		case 0:
			c.sent += max(int(r), 1) // sendmmsg sends at least one, or fails
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			c.sent++ // the first datagram left failed: drop it
		}
	}
	return true
}
