// Package ip4 is IPv4 address arithmetic on netip values: the few
// conversions both the IPAM and the subnet picker need.
package ip4

import "net/netip"

// ToUint32 is a as a big-endian number; a must be IPv4.
func ToUint32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// FromUint32 is the IPv4 address of the big-endian number v.
func FromUint32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Last is the highest address of p: its broadcast address.
func Last(p netip.Prefix) netip.Addr {
	p = p.Masked()
	return FromUint32(ToUint32(p.Addr()) | (1<<(32-p.Bits()) - 1))
}
