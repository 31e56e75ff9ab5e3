package network

import (
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/internal/ip4"
)

// candidatePools are the private ranges plumb carves default /24 subnets from,
// in order: away from Docker's default pools (172.17-172.29 and 192.168/16)
// first, so the two rarely meet.
var candidatePools = []netip.Prefix{
	netip.MustParsePrefix("172.30.0.0/15"),
	netip.MustParsePrefix("10.210.0.0/15"),
	netip.MustParsePrefix("10.212.0.0/14"),
}

// pickSubnet returns the first /24 of candidatePools that overlaps none of
// used. It is pure; Create feeds it the host's and plumb's prefixes.
func pickSubnet(used []netip.Prefix) (netip.Prefix, error) {
	for _, pool := range candidatePools {
		base := ip4.ToUint32(pool.Addr())
		count := uint32(1) << (24 - pool.Bits())
		for i := uint32(0); i < count; i++ {
			p := netip.PrefixFrom(ip4.FromUint32(base+i<<8), 24)
			if !overlapsAny(p, used) {
				return p, nil
			}
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 left in the default pools: give --subnet")
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}
