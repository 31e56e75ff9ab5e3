package ipam

import (
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/internal/ip4"
)

// DefaultPools are the private ranges plumb carves default /24 subnets
// from (what Docker calls default-address-pools), in order: away from
// Docker's own (172.17-172.29 and 192.168/16) first, so the two rarely meet.
var DefaultPools = []netip.Prefix{
	netip.MustParsePrefix("172.30.0.0/15"),
	netip.MustParsePrefix("10.210.0.0/15"),
	netip.MustParsePrefix("10.212.0.0/14"),
}

// PickSubnet returns the first /24 of DefaultPools that overlaps none of
// used. It is pure; network create feeds it the host's and plumb's prefixes.
func PickSubnet(used []netip.Prefix) (netip.Prefix, error) {
	for _, pool := range DefaultPools {
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
