package network

import (
	"fmt"
	"net/netip"
)

// validateCreate refuses options no host could make work, before anything
// is read or changed, with one ErrInvalid naming the value: a bad network
// name, a bridge name that is not a plausible interface name or reads as
// an address (validBridgeName), an MTU out of 68-65535, a subnet that
// validateSubnet refuses. The CLI and the CNI plugin both come through it.
func validateCreate(o CreateOptions) error {
	if err := ValidateName(o.Name); err != nil {
		return err
	}
	if o.Bridge != "" && !validBridgeName(o.Bridge) {
		return fmt.Errorf("bridge name %q: %w: want 1-15 of [A-Za-z0-9_.-], starting with a letter or digit, not an IPv4 address", o.Bridge, ErrInvalid)
	}
	if o.MTU != 0 && (o.MTU < 68 || o.MTU > 65535) {
		return fmt.Errorf("mtu %d: %w: must be between 68 and 65535", o.MTU, ErrInvalid)
	}
	if o.Subnet.IsValid() {
		return validateSubnet(o.Subnet)
	}
	return nil
}

// unusableSubnets are the IPv4 ranges a bridge network cannot live in
// (RFC 6890): their addresses are never routed to or from a bridge like
// a host's.
var unusableSubnets = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `the "this network" range, never a host's address`},
	{netip.MustParsePrefix("127.0.0.0/8"), "the loopback range"},
	{netip.MustParsePrefix("169.254.0.0/16"), "the link-local range"},
	{netip.MustParsePrefix("224.0.0.0/4"), "the multicast range"},
	{netip.MustParsePrefix("240.0.0.0/4"), "the reserved range, with the broadcast address"},
}

// validateSubnet checks a subnet given to create: IPv4, outside every
// unusable range, room for a gateway and one endpoint (a /30 at least),
// no host bits.
func validateSubnet(p netip.Prefix) error {
	if !p.Addr().Is4() {
		return fmt.Errorf("subnet %s: %w: only IPv4 is supported", p, ErrInvalid)
	}
	for _, u := range unusableSubnets {
		if p.Overlaps(u.prefix) {
			return fmt.Errorf("subnet %s: %w: overlaps %s, %s", p, ErrInvalid, u.prefix, u.what)
		}
	}
	if p.Bits() > 30 {
		return fmt.Errorf("subnet %s: %w: too small for a gateway and an endpoint (want a /30 or larger)", p, ErrInvalid)
	}
	if p != p.Masked() {
		return fmt.Errorf("subnet %s: %w: host bits set (did you mean %s?)", p, ErrInvalid, p.Masked())
	}
	return nil
}
