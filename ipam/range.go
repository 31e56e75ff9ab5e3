package ipam

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/plumbnet/plumb/internal/ip4"
	"github.com/plumbnet/plumb/internal/ipaddr"
)

// Sizes of IPv6 subnet plumb accepts, as Docker does: a /48 at most (a
// bigger one is a site's whole allocation, not a bridge) and a /120 at least.
const (
	MinBits6 = 48
	MaxBits6 = 120
)

// Range is the part of a subnet that addresses are handed out from.
// The subnet's network address and the gateway are never handed out,
// whatever First and Last say; for IPv4 neither is its broadcast address.
//
// IPv6 has no broadcast: the last address of an IPv6 subnet is a host
// address like any other and may be handed out (as Docker does). Its first,
// the subnet-router anycast address (RFC 4291 2.6.1), is not. The
// reserved subnet anycast addresses of RFC 2526 (the top 128 of a /64) are
// not set aside: nothing on a bridge uses them.
type Range struct {
	Subnet  netip.Prefix // masked prefix, e.g. 172.30.0.0/24 or fd12:3456:789a::/64
	First   netip.Addr   // first address to hand out (inclusive)
	Last    netip.Addr   // last address to hand out (inclusive)
	Gateway netip.Addr   // reserved for the bridge; may be invalid for none
}

// NewRange returns the Range of subnet, narrowed to ipRange when it is valid.
// It checks that ipRange lies inside subnet and that at least one address is
// left to hand out. An IPv4 subnet must be a /30 or bigger; an IPv6 one a
// /48 to a /120. A valid gateway must be of the subnet's family.
func NewRange(subnet netip.Prefix, ipRange netip.Prefix, gateway netip.Addr) (Range, error) {
	if !subnet.IsValid() {
		return Range{}, fmt.Errorf("no subnet: a range needs a valid prefix")
	}
	if err := checkSize(subnet); err != nil {
		return Range{}, err
	}
	subnet = subnet.Masked()
	if gateway.IsValid() && gateway.Is4() != subnet.Addr().Is4() {
		return Range{}, fmt.Errorf("gateway %s is not of the family of subnet %s", gateway, subnet)
	}
	scope := subnet
	if ipRange.IsValid() {
		ipRange = ipRange.Masked()
		if ipRange.Addr().Is4() != subnet.Addr().Is4() || ipRange.Bits() < subnet.Bits() || !subnet.Contains(ipRange.Addr()) {
			return Range{}, fmt.Errorf("ip range %s is not inside subnet %s", ipRange, subnet)
		}
		scope = ipRange
	}
	r := Range{Subnet: subnet, First: scope.Addr(), Last: ipaddr.Last(scope), Gateway: gateway}
	if r.First == subnet.Addr() {
		r.First = r.First.Next()
	}
	if subnet.Addr().Is4() && r.Last == ip4.Last(subnet) {
		r.Last = r.Last.Prev()
	}
	if r.Size() == 0 || (r.Size() == 1 && r.First == gateway) {
		return Range{}, fmt.Errorf("ip range %s leaves no address to hand out", scope)
	}
	return r, nil
}

// checkSize rejects a subnet of a size plumb does not hand addresses out
// of, in one line naming it.
func checkSize(subnet netip.Prefix) error {
	a := subnet.Addr()
	switch {
	case a.Is4() && subnet.Bits() > 30:
		return fmt.Errorf("subnet %s is too small: need at least a /30", subnet.Masked())
	case a.Is4():
		return nil
	case a.Is4In6():
		return fmt.Errorf("IPv6 subnet %s is IPv4-mapped: give the IPv4 subnet instead", subnet)
	case subnet.Bits() < MinBits6:
		return fmt.Errorf("IPv6 subnet %s is too large: at most a /%d", subnet.Masked(), MinBits6)
	case subnet.Bits() > MaxBits6:
		return fmt.Errorf("IPv6 subnet %s is too small: at least a /%d", subnet.Masked(), MaxBits6)
	}
	return nil
}

// Contains reports whether ip may be handed out: of the range's family,
// with no zone, inside the range and not the network, broadcast (IPv4) or
// gateway address.
func (r Range) Contains(ip netip.Addr) bool {
	return ip.IsValid() && ip.Is4() == r.First.Is4() && ip.Zone() == "" &&
		r.First.Compare(ip) <= 0 && ip.Compare(r.Last) <= 0 && ip != r.Gateway
}

// Size is the number of addresses between First and Last, inclusive,
// capped at math.MaxInt: an IPv6 range as big as a /64 reports math.MaxInt
// (it is never walked whole; see Allocator).
func (r Range) Size() int {
	if !r.First.IsValid() || r.Last.Less(r.First) {
		return 0
	}
	n, ok := ipaddr.Sub(r.Last, r.First)
	if !ok || n >= math.MaxInt {
		return math.MaxInt
	}
	return int(n) + 1
}

// next returns the address after ip, wrapping from Last to First.
func (r Range) next(ip netip.Addr) netip.Addr {
	if !ip.IsValid() || ip.Compare(r.First) < 0 || ip.Compare(r.Last) >= 0 {
		return r.First
	}
	return ip.Next()
}

// Broadcast returns the broadcast address of the IPv4 subnet p, and the
// zero Addr for an IPv6 one: IPv6 has no broadcast.
func Broadcast(p netip.Prefix) netip.Addr {
	if !p.IsValid() || !p.Addr().Is4() {
		return netip.Addr{}
	}
	return ip4.Last(p)
}
