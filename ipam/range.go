package ipam

import (
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/internal/ip4"
)

// Range is the part of a subnet that addresses are handed out from.
// The subnet's network address, its broadcast address and the gateway
// are never handed out, whatever First and Last say.
type Range struct {
	Subnet  netip.Prefix // masked IPv4 prefix, e.g. 172.30.0.0/24
	First   netip.Addr   // first address to hand out (inclusive)
	Last    netip.Addr   // last address to hand out (inclusive)
	Gateway netip.Addr   // reserved for the bridge; may be invalid for none
}

// NewRange returns the Range of subnet, narrowed to ipRange when it is valid.
// It checks that ipRange lies inside subnet and that at least one address is
// left to hand out.
func NewRange(subnet netip.Prefix, ipRange netip.Prefix, gateway netip.Addr) (Range, error) {
	if !subnet.IsValid() || !subnet.Addr().Is4() {
		return Range{}, fmt.Errorf("subnet %s: only IPv4 subnets are supported", subnet)
	}
	subnet = subnet.Masked()
	if subnet.Bits() > 30 {
		return Range{}, fmt.Errorf("subnet %s is too small: need at least a /30", subnet)
	}
	scope := subnet
	if ipRange.IsValid() {
		ipRange = ipRange.Masked()
		if !ipRange.Addr().Is4() || ipRange.Bits() < subnet.Bits() || !subnet.Contains(ipRange.Addr()) {
			return Range{}, fmt.Errorf("ip range %s is not inside subnet %s", ipRange, subnet)
		}
		scope = ipRange
	}
	r := Range{Subnet: subnet, First: scope.Addr(), Last: ip4.Last(scope), Gateway: gateway}
	if r.First == subnet.Addr() {
		r.First = r.First.Next()
	}
	if r.Last == ip4.Last(subnet) {
		r.Last = r.Last.Prev()
	}
	if r.Size() == 0 || (r.Size() == 1 && r.First == gateway) {
		return Range{}, fmt.Errorf("ip range %s leaves no address to hand out", scope)
	}
	return r, nil
}

// Contains reports whether ip may be handed out: inside the range and not
// the network, broadcast or gateway address.
func (r Range) Contains(ip netip.Addr) bool {
	return ip.Is4() && r.First.Compare(ip) <= 0 && ip.Compare(r.Last) <= 0 && ip != r.Gateway
}

// Size is the number of addresses between First and Last, inclusive.
func (r Range) Size() int {
	if !r.First.IsValid() || r.Last.Less(r.First) {
		return 0
	}
	return int(ip4.ToUint32(r.Last)-ip4.ToUint32(r.First)) + 1
}

// next returns the address after ip, wrapping from Last to First.
func (r Range) next(ip netip.Addr) netip.Addr {
	if !ip.IsValid() || ip.Compare(r.First) < 0 || ip.Compare(r.Last) >= 0 {
		return r.First
	}
	return ip.Next()
}

// Broadcast returns the broadcast address of the subnet p.
func Broadcast(p netip.Prefix) netip.Addr { return ip4.Last(p) }
