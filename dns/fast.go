package dns

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"unsafe"
)

// Sizes of the records the fast path writes: a compression pointer to the
// question's name (0xC00C), type, class, TTL, RDLENGTH, the address.
const (
	rrALen    = 2 + 10 + 4
	rrAAAALen = 2 + 10 + 16
	namePtr   = 0xC000 | headerLen
)

// answerFast writes into out the reply ServeDNS would give, over UDP, to q
// (parsed from msg) from a client with scope, when that reply comes from
// the table alone: q's name is in scope, its class is IN and the reply fits
// both out and the client's UDP limit. It returns the reply's length and
// true; false means the query is left to ServeDNS (a name not in scope,
// forwarding, PTR, zone transfers, truncation).
//
// The bytes are those of ServeDNS's reply packed by miekg/dns with
// compression: msg's id, QR, RD and CD copied, RA set, the question as
// the client wrote it (its case kept, for 0x20), one record per address
// with its owner a pointer to the question's name, TTL RecordTTL, rotated
// as appendAddrs rotates them, and our OPT when the query had one. Any
// type but A, AAAA and ANY, for a name we hold, is NODATA.
func (h *Handler) answerFast(scope Scope, q *fastQuery, msg, out []byte) (int, bool) {
	if h.Table == nil || q.qclass != classIN || q.qtype == typeAXFR || q.qtype == typeIXFR || q.end > len(msg) {
		return 0, false
	}
	// The table keeps no reference to the key: a view of q.name will do,
	// and costs no allocation on the hot path.
	a := h.Table.find(scope.Networks, unsafe.String(unsafe.SliceData(q.name), len(q.name)))
	if a == nil {
		return 0, false
	}
	var v4, v6 []netip.Addr
	switch q.qtype {
	case typeA:
		v4 = a.v4
	case typeAAAA:
		v6 = a.v6
	case typeANY:
		v4, v6 = a.v4, a.v6
	}
	size := q.end + addrsLen(v4) + addrsLen(v6)
	if q.edns {
		size += optLen
	}
	if size > len(out) || size > q.udpLimit() {
		return 0, false
	}

	out = out[:size]
	copy(out, msg[:q.end])
	binary.BigEndian.PutUint16(out[2:], flagQR|flagRA|q.flags&(flagRD|flagCD))
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[6:], uint16(len(v4)+len(v6)))
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	off := putAddrs(out, q.end, v4)
	off = putAddrs(out, off, v6)
	if q.edns {
		binary.BigEndian.PutUint16(out[10:], 1)
		opt := out[off : off+optLen]
		opt[0] = 0 // root
		binary.BigEndian.PutUint16(opt[1:], typeOPT)
		binary.BigEndian.PutUint16(opt[3:], advertisedUDPSize)
		opt[5], opt[6], opt[7], opt[8] = 0, 0, 0, 0 // extended rcode, version, flags
		if q.do {
			opt[7] = optDOFlagBit
		}
		binary.BigEndian.PutUint16(opt[9:], 0)
	}
	return size, true
}

// addrsLen is the length of the records putAddrs writes for ips.
func addrsLen(ips []netip.Addr) int {
	n := 0
	for _, ip := range ips {
		if ip.Is4() {
			n += rrALen
		} else {
			n += rrAAAALen
		}
	}
	return n
}

// putAddrs writes a record per address at out[off:], A for an IPv4 address
// and AAAA for any other, starting at a random one: what appendAddrs puts
// in the Handler's reply. It returns the offset after them; out must have
// the room addrsLen says.
func putAddrs(out []byte, off int, ips []netip.Addr) int {
	start := 0
	if len(ips) > 1 {
		start = rand.IntN(len(ips))
	}
	for i := range ips {
		ip := ips[(start+i)%len(ips)]
		rrtype, rdlen := uint16(typeAAAA), 16
		if ip.Is4() {
			rrtype, rdlen = typeA, 4
		}
		binary.BigEndian.PutUint16(out[off:], namePtr)
		binary.BigEndian.PutUint16(out[off+2:], rrtype)
		binary.BigEndian.PutUint16(out[off+4:], classIN)
		binary.BigEndian.PutUint32(out[off+6:], RecordTTL)
		binary.BigEndian.PutUint16(out[off+10:], uint16(rdlen))
		b := ip.As16()
		off += 12 + copy(out[off+12:], b[16-rdlen:])
	}
	return off
}
