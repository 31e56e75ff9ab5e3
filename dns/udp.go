package dns

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"

	mdns "github.com/miekg/dns"
)

// udpServer answers DNS over one UDP socket with one read-answer-write
// loop: no goroutine per datagram, no allocation for the common query.
//
// Each datagram of a batch is, in order:
//   - dropped when it is shorter than a DNS header or is a response (QR
//     set), as miekg/dns's server with acceptQueries drops them;
//   - with a *Handler: dropped when ScopeOf rejects the client, whatever it
//     sent; answered in the loop itself when parseQuery and answerFast can
//     (a name of the table, over UDP);
//   - otherwise handed to the Handler on a goroutine of its own, exactly as
//     miekg/dns's server hands it (unpacked, or answered FORMERR when it
//     does not unpack), since the Handler may forward and wait.
//
// The replies of a batch go out together once the whole batch is read.
type udpServer struct {
	pc    net.PacketConn
	conn  batchConn
	h     mdns.Handler
	fast  *Handler // h, when it is ours: the fast path and early scoping
	local net.Addr
	// scopeW is what fast.ScopeOf sees for the datagram at hand: the loop's
	// own writer, its remote address rewritten in place per datagram.
	scopeW *udpWriter
	slow   sync.WaitGroup
}

func newUDPServer(pc net.PacketConn, h mdns.Handler) *udpServer {
	s := &udpServer{pc: pc, conn: newBatchConn(pc), h: h, local: pc.LocalAddr()}
	s.fast, _ = h.(*Handler)
	s.scopeW = &udpWriter{pc: pc, local: s.local, remote: &net.UDPAddr{IP: make(net.IP, 0, net.IPv6len)}}
	return s
}

// serve runs the loop until the conn is closed (nil) or fails (the error).
// When it returns, every query handed to the Handler has been answered.
func (s *udpServer) serve() error {
	defer s.slow.Wait()
	for {
		b, n, err := s.conn.readBatch()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		for i := range n {
			s.handle(b, i)
		}
		err = s.conn.writeBatch(b, n)
		putBatch(b)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
}

// handle answers b's i-th datagram, setting its reply, or drops it, or
// hands it to the Handler.
func (s *udpServer) handle(b *batch, i int) {
	p := &b.pkts[i]
	p.reply = 0
	msg := b.in[i][:p.n]
	if len(msg) < headerLen || msg[2]&(flagQR>>8) != 0 {
		return
	}
	if h := s.fast; h != nil {
		if h.ScopeOf == nil {
			return
		}
		s.scopeW.setRemote(p.from)
		scope, ok := h.ScopeOf(s.scopeW)
		if !ok {
			return
		}
		if q, ok := parseQuery(msg, &b.name); ok {
			if n, ok := h.answerFast(scope, &q, msg, b.out[i][:]); ok {
				p.reply = n
				return
			}
		}
	}
	s.handOver(bytes.Clone(msg), p.from)
}

// handOver serves msg from from on a goroutine of its own, as miekg/dns's
// server does: unpacked and passed to the Handler, or, when it does not
// unpack, answered FORMERR with its header and question echoed and nothing
// else.
func (s *udpServer) handOver(msg []byte, from netip.AddrPort) {
	s.slow.Add(1)
	go func() {
		defer s.slow.Done()
		w := &udpWriter{pc: s.pc, local: s.local, remote: net.UDPAddrFromAddrPort(from)}
		r := new(mdns.Msg)
		if err := r.Unpack(msg); err != nil {
			// miekg/dns's server.serveDNS, for a message it cannot unpack.
			r.SetRcodeFormatError(r)
			r.Zero = false
			r.Ns, r.Answer, r.Extra = nil, nil, nil
			_ = w.WriteMsg(r)
			return
		}
		s.h.ServeDNS(w, r)
	}()
}

// udpWriter is the mdns.ResponseWriter of a UDP query: it writes to the
// query's sender on the listener's socket.
type udpWriter struct {
	pc     net.PacketConn
	local  net.Addr
	remote *net.UDPAddr
}

var _ mdns.ResponseWriter = (*udpWriter)(nil)

// setRemote points w at ap without allocating.
func (w *udpWriter) setRemote(ap netip.AddrPort) {
	ip := ap.Addr()
	if ip.Is4() {
		a := ip.As4()
		w.remote.IP = append(w.remote.IP[:0], a[:]...)
	} else {
		a := ip.As16()
		w.remote.IP = append(w.remote.IP[:0], a[:]...)
	}
	w.remote.Port = int(ap.Port())
	w.remote.Zone = ""
}

func (w *udpWriter) LocalAddr() net.Addr  { return w.local }
func (w *udpWriter) RemoteAddr() net.Addr { return w.remote }

func (w *udpWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (w *udpWriter) Write(b []byte) (int, error) { return w.pc.WriteTo(b, w.remote) }
func (w *udpWriter) Close() error                { return nil }
func (w *udpWriter) TsigStatus() error           { return nil }
func (w *udpWriter) TsigTimersOnly(bool)         {}
func (w *udpWriter) Hijack()                     {}
