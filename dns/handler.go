package dns

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"
)

const (
	// RecordTTL is the TTL of every answer from the table, in seconds:
	// Docker's embedded DNS uses 600 (libnetwork resolver.go, respTTL).
	RecordTTL = 600

	// advertisedUDPSize is the EDNS0 payload size put in replies and in
	// queries to upstreams: the DNS flag day 2020 value, which fits any
	// path MTU without fragmentation.
	advertisedUDPSize = 1232

	// maxUDPResponse caps what a client's EDNS0 size may ask for over UDP.
	maxUDPResponse = mdns.DefaultMsgSize

	// maxForwardTime bounds one forwarded query, whatever the Forwarder
	// does: stub resolvers have given up long before (glibc: 2 x 5s).
	maxForwardTime = 10 * time.Second
)

// Scope says which networks a client may see, decided by the server from
// the client's source address and the listener the query arrived on.
type Scope struct {
	// Networks in priority order: a name known on two networks answers
	// with the first one's addresses.
	Networks []string
	// Internal is true when every network of the client is internal: names
	// outside the table are never forwarded and answer NXDOMAIN.
	Internal bool
}

// Handler is the embedded DNS server's query logic, a miekg/dns Handler.
//
// For a client that ScopeOf accepts, a query (opcode QUERY, one question,
// class IN) for a name in the client's scope is answered from Table: A and
// AAAA with every address of the name (rotated between queries), ANY with
// both, any other type NOERROR with no answer (NODATA: the name exists).
// PTR queries for an address in scope answer "name.network". Everything
// else is not ours: it is forwarded when the scope is not Internal and a
// Forwarder is set; otherwise it answers NXDOMAIN (Internal scope: nothing
// outside exists) or SERVFAIL (no Forwarder: resolution is unavailable).
// Single-label names are forwarded like any other, as Docker does.
//
// Replies set RA and not AA, as Docker's do. A query with EDNS0 gets EDNS0
// back (payload size 1232, DO echoed); a version other than 0 gets BADVERS.
// Replies over UDP are cut to the client's payload size (512 without EDNS0,
// at most 4096) with TC set, so the client retries over TCP. Opcodes other
// than QUERY answer NOTIMP, a question count other than one FORMERR, zone
// transfers REFUSED.
//
// A client ScopeOf rejects gets no answer at all, whatever it sends, so the
// listeners are never an open resolver or a reflector; the same holds for
// messages that are responses. (Bytes that do not parse as a DNS message
// never reach the handler: Server answers those FORMERR itself, over UDP
// only to a client ScopeOf accepts, with a reply no larger than the
// request.)
//
// Over UDP, Server answers the common query for a name of the table
// without calling ServeDNS (answerFast), with the bytes ServeDNS's reply
// would have; ScopeOf is then called with a ResponseWriter that is valid
// only during the call. Over TCP, Server also calls ScopeOf when it
// accepts a connection, with a ResponseWriter that has the connection's
// addresses and cannot write, and closes the connection at once when the
// client is refused: ScopeOf must decide from the addresses alone, and
// quickly (it runs in the accept loop).
//
// ServeDNS never panics on any message miekg/dns can unpack; FuzzHandler
// checks that. A Handler is safe for concurrent use; its fields must not
// change while it serves.
type Handler struct {
	Table *Table
	// ScopeOf maps a query's connection to the client's scope; false means
	// not our client, and the query is dropped. A nil ScopeOf drops
	// everything.
	ScopeOf func(w mdns.ResponseWriter) (Scope, bool)
	// Forwarder resolves names that are not ours. Nil: SERVFAIL for them.
	Forwarder Forwarder
}

var _ mdns.Handler = (*Handler)(nil)

// ServeDNS answers r on w, or drops it (see Handler).
func (h *Handler) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	if r == nil || r.Response || h.ScopeOf == nil {
		return
	}
	scope, ok := h.ScopeOf(w)
	if !ok {
		return
	}
	reply := h.respond(scope, r, isTCP(w))
	if reply == nil {
		return
	}
	// A write error means the client is gone; there is no one to tell.
	_ = w.WriteMsg(reply)
}

// respond builds the reply to r for a client with scope; nil means no reply.
func (h *Handler) respond(scope Scope, r *mdns.Msg, tcp bool) *mdns.Msg {
	opt, nOPT := ednsOf(r)
	if r.Opcode != mdns.OpcodeQuery {
		return rcodeReply(r, opt, mdns.RcodeNotImplemented)
	}
	if len(r.Question) != 1 || nOPT > 1 { // RFC 6891 6.1.1: more than one OPT is FORMERR
		return rcodeReply(r, opt, mdns.RcodeFormatError)
	}
	if opt != nil && opt.Version() != 0 {
		return rcodeReply(r, opt, mdns.RcodeBadVers)
	}
	q := r.Question[0]
	if q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR {
		return rcodeReply(r, opt, mdns.RcodeRefused)
	}

	var reply *mdns.Msg
	if q.Qclass == mdns.ClassINET && h.Table != nil {
		if a := h.Table.find(scope.Networks, q.Name); a != nil {
			reply = addressReply(r, q, a)
		} else if q.Qtype == mdns.TypePTR {
			if ip, ok := parseReverseName(q.Name); ok {
				if targets := h.Table.Reverse(scope.Networks, ip); len(targets) > 0 {
					reply = ptrReply(r, q, targets)
				}
			}
		}
	}
	if reply == nil {
		reply = h.notOurs(scope, r, opt)
	}
	if opt != nil && reply.IsEdns0() == nil {
		reply.SetEdns0(advertisedUDPSize, opt.Do())
	}
	reply.Truncate(responseLimit(opt, tcp))
	// Truncate turns compression off when the reply fits without it; keep
	// it on, so that an answer's name is a pointer to the question's, as in
	// the replies the UDP fast path writes (answerFast) byte for byte.
	reply.Compress = true
	return reply
}

// notOurs answers a name outside the client's scope.
func (h *Handler) notOurs(scope Scope, r *mdns.Msg, opt *mdns.OPT) *mdns.Msg {
	if scope.Internal {
		return rcodeReply(r, nil, mdns.RcodeNameError)
	}
	if h.Forwarder == nil {
		return rcodeReply(r, nil, mdns.RcodeServerFailure)
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxForwardTime)
	defer cancel()
	resp, err := h.Forwarder.Forward(ctx, upstreamQuery(r, opt))
	if err != nil || resp == nil {
		return rcodeReply(r, nil, mdns.RcodeServerFailure)
	}
	return relay(r, resp, opt)
}

// upstreamQuery is the query sent upstream for r: a fresh id, r's question
// (its case kept, for clients that randomise it), RD always set (we are a
// forwarder), CD and AD copied, and our own EDNS0 with r's DO bit. r's EDNS0
// options (cookies, client subnet, padding) are hop-by-hop and not passed.
func upstreamQuery(r *mdns.Msg, opt *mdns.OPT) *mdns.Msg {
	q := new(mdns.Msg)
	q.Id = mdns.Id()
	q.Opcode = mdns.OpcodeQuery
	q.RecursionDesired = true
	q.CheckingDisabled = r.CheckingDisabled
	q.AuthenticatedData = r.AuthenticatedData
	q.Question = []mdns.Question{r.Question[0]}
	q.SetEdns0(advertisedUDPSize, opt != nil && opt.Do())
	return q
}

// relay turns an upstream answer into the reply to r: r's id and question,
// the upstream's OPT and TSIG dropped (hop-by-hop; respond adds ours).
func relay(r, resp *mdns.Msg, opt *mdns.OPT) *mdns.Msg {
	resp.Id = r.Id
	resp.Response = true
	resp.Opcode = mdns.OpcodeQuery
	resp.RecursionDesired = r.RecursionDesired
	resp.Question = []mdns.Question{r.Question[0]}
	extra := resp.Extra[:0]
	for _, rr := range resp.Extra {
		if rr == nil {
			continue
		}
		if t := rr.Header().Rrtype; t != mdns.TypeOPT && t != mdns.TypeTSIG {
			extra = append(extra, rr)
		}
	}
	resp.Extra = extra
	if opt == nil && resp.Rcode > 0xF {
		// An extended rcode needs an OPT to travel in; the client has none.
		resp.Rcode = mdns.RcodeServerFailure
	}
	resp.Compress = true
	return resp
}

func addressReply(r *mdns.Msg, q mdns.Question, a *answer) *mdns.Msg {
	m := newReply(r)
	switch q.Qtype {
	case mdns.TypeA:
		m.Answer = appendAddrs(m.Answer, q.Name, a.v4)
	case mdns.TypeAAAA:
		m.Answer = appendAddrs(m.Answer, q.Name, a.v6)
	case mdns.TypeANY:
		m.Answer = appendAddrs(m.Answer, q.Name, a.v4)
		m.Answer = appendAddrs(m.Answer, q.Name, a.v6)
	}
	// Any other type: the name exists, so NODATA (NOERROR, no answer).
	return m
}

// appendAddrs appends an A or AAAA record per address, starting at a random
// one so that clients taking the first address spread over them.
func appendAddrs(rrs []mdns.RR, name string, ips []netip.Addr) []mdns.RR {
	start := 0
	if len(ips) > 1 {
		start = rand.IntN(len(ips))
	}
	for i := range ips {
		ip := ips[(start+i)%len(ips)]
		if ip.Is4() {
			rrs = append(rrs, &mdns.A{
				Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: RecordTTL},
				A:   net.IP(ip.AsSlice()),
			})
		} else {
			rrs = append(rrs, &mdns.AAAA{
				Hdr:  mdns.RR_Header{Name: name, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: RecordTTL},
				AAAA: net.IP(ip.AsSlice()),
			})
		}
	}
	return rrs
}

func ptrReply(r *mdns.Msg, q mdns.Question, targets []string) *mdns.Msg {
	m := newReply(r)
	for _, t := range targets {
		m.Answer = append(m.Answer, &mdns.PTR{
			Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: RecordTTL},
			Ptr: mdns.Fqdn(t),
		})
	}
	return m
}

func newReply(r *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	return m
}

// rcodeReply is an answerless reply with rcode. opt, when not nil, adds our
// OPT at once (an extended rcode such as BADVERS needs one to be packed).
func rcodeReply(r *mdns.Msg, opt *mdns.OPT, rcode int) *mdns.Msg {
	m := newReply(r)
	m.Rcode = rcode
	if opt != nil {
		m.SetEdns0(advertisedUDPSize, opt.Do())
	}
	return m
}

// ednsOf returns r's OPT record, if any, and how many r carries.
func ednsOf(r *mdns.Msg) (*mdns.OPT, int) {
	var opt *mdns.OPT
	n := 0
	for _, rr := range r.Extra {
		if o, ok := rr.(*mdns.OPT); ok {
			opt = o
			n++
		}
	}
	return opt, n
}

// responseLimit is the largest reply the client accepts: 64KiB over TCP;
// over UDP its EDNS0 payload size, at least 512 and at most 4096.
func responseLimit(opt *mdns.OPT, tcp bool) int {
	if tcp {
		return mdns.MaxMsgSize
	}
	size := mdns.MinMsgSize
	if opt != nil {
		size = max(size, min(int(opt.UDPSize()), maxUDPResponse))
	}
	return size
}

// isTCP reports whether w is a stream connection. A writer whose local
// address is unknown is treated as UDP, the stricter size limit.
func isTCP(w mdns.ResponseWriter) bool {
	switch a := w.LocalAddr().(type) {
	case *net.TCPAddr:
		return true
	case nil:
		return false
	default:
		return a.Network() == "tcp" || a.Network() == "tcp4" || a.Network() == "tcp6"
	}
}
