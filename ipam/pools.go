package ipam

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strconv"

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
	_, ok := Overlapping(p, used)
	return ok
}

// Overlapping returns the first prefix of used that shares an address with
// p, of either family (prefixes of different families never overlap), for
// an error that names it.
func Overlapping(p netip.Prefix, used []netip.Prefix) (netip.Prefix, bool) {
	for _, u := range used {
		if p.Overlaps(u) {
			return u, true
		}
	}
	return netip.Prefix{}, false
}

// ulaTries is how many candidates ULA derives before it gives up.
const ulaTries = 1024

// ULA returns an IPv6 unique local /64 for the network with id, in the
// manner of RFC 4193: fd, then a 40-bit global ID taken from the SHA-256
// of id, then subnet ID 0, e.g. fd3c:85d2:1e07::/64. When that overlaps a
// prefix of used (the caller passes the host's routes and address subnets
// and the other plumb networks' subnets), the next candidate hashes id
// followed by "/1", "/2", … It is pure: the same id and used give the same
// answer. A default route (::/0) in used is ignored: it covers everything
// and says nothing about what is taken. The first candidate is, in shell:
//
//	h=$(printf %s "$ID" | sha256sum | cut -c1-10); echo fd${h:0:2}:${h:2:4}:${h:6:4}::/64
func ULA(id string, used []netip.Prefix) (netip.Prefix, error) {
	var taken []netip.Prefix
	for _, u := range used {
		if u.IsValid() && u.Bits() > 0 {
			taken = append(taken, u)
		}
	}
	for i := 0; i < ulaTries; i++ {
		seed := id
		if i > 0 {
			seed = id + "/" + strconv.Itoa(i)
		}
		sum := sha256.Sum256([]byte(seed))
		var b [16]byte
		b[0] = 0xfd
		copy(b[1:6], sum[:5])
		p := netip.PrefixFrom(netip.AddrFrom16(b), 64)
		if !overlapsAny(p, taken) {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free IPv6 unique local /64 for network id %q after %d tries: give an IPv6 --subnet", id, ulaTries)
}
