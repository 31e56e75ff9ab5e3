package dns

import "encoding/binary"

// DNS wire constants the fast path reads and writes (RFC 1035 4.1, RFC 6891).
const (
	headerLen = 12

	flagQR     = 1 << 15
	flagOpcode = 0xF << 11
	flagRD     = 1 << 8
	flagRA     = 1 << 7
	flagCD     = 1 << 4

	typeA    = 1
	typeAAAA = 28
	typeOPT  = 41
	typeIXFR = 251
	typeAXFR = 252
	typeANY  = 255
	classIN  = 1

	optLen       = 11  // a plain OPT record: root name, type, class, TTL, rdlength 0
	maxNameWire  = 255 // RFC 1035 2.3.4
	maxLabel     = 63
	maxNameText  = maxNameWire - 2 // the dotted form, without the root's dot
	optDOFlagBit = 0x80            // DO, the high bit of the OPT TTL's flags
)

// fastQuery is what the fast path needs of a query, parsed by hand from the
// wire (parseQuery).
type fastQuery struct {
	flags   uint16
	end     int    // the header and the question are msg[:end]
	qtype   uint16 // the question's type and class
	qclass  uint16
	name    []byte // the name in canonical form: lower case, no trailing dot
	edns    bool   // a plain OPT record follows the question
	udpSize uint16 // the OPT's payload size
	do      bool   // the OPT's DO bit
}

// parseQuery parses msg when it is the common query, the one the fast path
// answers: QR clear, opcode QUERY, one question, no answer or authority
// records, and either no additional record or one plain OPT (root name,
// EDNS version 0, no options), with nothing after it. The question's name
// must be made of labels of letters, digits, '-' and '_' (the characters
// container names use; none of them is escaped in miekg/dns's text form)
// and must not be compressed. The name is written lower-cased into
// nameBuf, which q.name then shares.
//
// Anything else returns false, and the caller leaves the query to the
// Handler: false is always a safe answer. parseQuery never reads outside
// msg and never panics.
func parseQuery(msg []byte, nameBuf *[maxNameText]byte) (q fastQuery, ok bool) {
	if len(msg) < headerLen {
		return q, false
	}
	q.flags = binary.BigEndian.Uint16(msg[2:])
	if q.flags&(flagQR|flagOpcode) != 0 ||
		binary.BigEndian.Uint16(msg[4:]) != 1 || // QDCOUNT
		binary.BigEndian.Uint16(msg[6:]) != 0 || // ANCOUNT
		binary.BigEndian.Uint16(msg[8:]) != 0 { // NSCOUNT
		return q, false
	}
	arcount := binary.BigEndian.Uint16(msg[10:])
	if arcount > 1 {
		return q, false
	}

	off, n := headerLen, 0
	for {
		if off >= len(msg) {
			return q, false
		}
		l := int(msg[off])
		off++
		if l == 0 {
			break
		}
		// Over 63: a compression pointer or a reserved label type.
		if l > maxLabel || off+l > len(msg) || off-headerLen+l > maxNameWire-1 {
			return q, false
		}
		if n > 0 {
			if n >= len(nameBuf) {
				return q, false
			}
			nameBuf[n] = '.'
			n++
		}
		if n+l > len(nameBuf) {
			return q, false
		}
		for _, c := range msg[off : off+l] {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				return q, false
			}
			nameBuf[n] = c
			n++
		}
		off += l
	}
	if n == 0 || off+4 > len(msg) { // the root name is never ours
		return q, false
	}
	q.name = nameBuf[:n]
	q.qtype = binary.BigEndian.Uint16(msg[off:])
	q.qclass = binary.BigEndian.Uint16(msg[off+2:])
	off += 4
	q.end = off

	if arcount == 1 {
		opt := msg[off:]
		if len(opt) != optLen ||
			opt[0] != 0 || // root name
			binary.BigEndian.Uint16(opt[1:]) != typeOPT ||
			opt[6] != 0 || // EDNS version
			binary.BigEndian.Uint16(opt[9:]) != 0 { // RDLENGTH: no options
			return q, false
		}
		q.edns = true
		q.udpSize = binary.BigEndian.Uint16(opt[3:])
		q.do = opt[7]&optDOFlagBit != 0
		off += optLen
	}
	if off != len(msg) {
		return q, false
	}
	return q, true
}

// udpLimit is responseLimit for a parsed query over UDP: 512 without EDNS0,
// else the client's payload size, at least 512 and at most 4096.
func (q *fastQuery) udpLimit() int {
	if !q.edns {
		return 512
	}
	return max(512, min(int(q.udpSize), maxUDPResponse))
}
