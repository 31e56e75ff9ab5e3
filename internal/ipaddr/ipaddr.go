// Package ipaddr is address arithmetic on netip values that works for both
// families: the last address of a prefix, the distance between two
// addresses and an offset from one, in 128-bit arithmetic so that an IPv6
// /48 neither overflows nor needs math/big. internal/ip4 stays the
// IPv4-only shortcut (uint32) for callers that never see IPv6.
package ipaddr

import (
	"math"
	"math/bits"
	"net/netip"
)

// Last is the highest address of p (for IPv4 its broadcast address), or
// the zero Addr when p is invalid. Equivalent to: the end of the "Network
// range" `sipcalc P` prints.
func Last(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().AsSlice()
	for i := range b {
		switch keep := p.Bits() - 8*i; { // network bits left in byte i
		case keep <= 0:
			b[i] = 0xff
		case keep < 8:
			b[i] |= 0xff >> keep
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Sub is b - a as a count of addresses. ok is false when the two are not of
// one family, b is below a, or the difference does not fit in 64 bits
// (possible only for IPv6); then the count is math.MaxUint64. Zones are
// ignored.
func Sub(b, a netip.Addr) (n uint64, ok bool) {
	if !a.IsValid() || !b.IsValid() || a.Is4() != b.Is4() || b.Less(a) {
		return math.MaxUint64, false
	}
	bh, bl := split(b)
	ah, al := split(a)
	lo, borrow := bits.Sub64(bl, al, 0)
	if hi, _ := bits.Sub64(bh, ah, borrow); hi != 0 {
		return math.MaxUint64, false
	}
	return lo, true
}

// Add is a + n, or ok false when that runs past the end of a's family
// (255.255.255.255 or ffff:…:ffff). A zone of a is kept.
func Add(a netip.Addr, n uint64) (netip.Addr, bool) {
	if !a.IsValid() {
		return netip.Addr{}, false
	}
	if a.Is4() {
		b := a.As4()
		v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		if n > math.MaxUint32-v {
			return netip.Addr{}, false
		}
		v += n
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
	}
	hi, lo := split(a)
	lo, carry := bits.Add64(lo, n, 0)
	hi, over := bits.Add64(hi, 0, carry)
	if over != 0 {
		return netip.Addr{}, false
	}
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b).WithZone(a.Zone()), true
}

// split is the 16-byte form of a as two big-endian halves.
func split(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return hi, lo
}
