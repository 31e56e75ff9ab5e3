package dns

import (
	"net"
	"net/netip"
	"sync"
)

const (
	// batchSize is how many datagrams one read takes at most (recvmmsg's
	// vlen) and one write sends (sendmmsg's).
	batchSize = 16
	// fastReplySize bounds a reply the fast path writes; a larger one is
	// left to the Handler. Every reply to a client without EDNS0 fits.
	fastReplySize = 512
)

// packet is one datagram of a batch and its reply.
type packet struct {
	n     int            // bytes read into the batch's in buffer
	from  netip.AddrPort // the sender, IPv4-mapped addresses unmapped
	reply int            // bytes of the batch's out buffer to send back; 0: none
}

// batch is the memory one read-answer-write round of a UDP loop works in.
// Batches come from a pool and a loop holds one only between a read that
// returned datagrams and the write of their replies, never while it waits:
// an idle listener costs no buffer, so a thousand of them cost little.
type batch struct {
	pkts [batchSize]packet
	in   [batchSize][udpReadSize]byte
	out  [batchSize][fastReplySize]byte
	name [maxNameText]byte // parseQuery's scratch
	sys  sysBatch          // what the platform's batch calls need
}

var batches = sync.Pool{New: func() any {
	b := new(batch)
	b.sys.init(b)
	return b
}}

func getBatch() *batch  { return batches.Get().(*batch) }
func putBatch(b *batch) { batches.Put(b) }

// batchConn reads and writes datagrams a batch at a time.
type batchConn interface {
	// readBatch waits until datagrams arrive and returns a batch from the
	// pool holding 1..batchSize of them in pkts[:n] and in[:n].
	readBatch() (b *batch, n int, err error)
	// writeBatch sends out[i][:pkts[i].reply] to pkts[i].from for every
	// i < n with a reply, as well as it can: a datagram the kernel refuses
	// is dropped, as a lost datagram would be.
	writeBatch(b *batch, n int) error
}

// plainConn is a batchConn of one datagram at a time, over any
// net.PacketConn: for platforms without recvmmsg, and conns that are not
// sockets.
type plainConn struct {
	pc net.PacketConn
}

func (c *plainConn) readBatch() (*batch, int, error) {
	b := getBatch()
	for {
		n, addr, err := c.pc.ReadFrom(b.in[0][:])
		if err != nil {
			putBatch(b)
			return nil, 0, err
		}
		if ap, ok := addrPort(addr); ok {
			b.pkts[0] = packet{n: n, from: ap}
			return b, 1, nil
		}
		// Not an IP sender: no one the handler could answer.
	}
}

func (c *plainConn) writeBatch(b *batch, n int) error {
	for i := range n {
		if p := &b.pkts[i]; p.reply > 0 {
			_, _ = c.pc.WriteTo(b.out[i][:p.reply], net.UDPAddrFromAddrPort(p.from))
		}
	}
	return nil
}
