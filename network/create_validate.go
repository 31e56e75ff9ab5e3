package network

import (
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/firewall"
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
		if err := validateSubnet(o.Subnet); err != nil {
			return err
		}
	}
	return validateFamilies(o)
}

// validateFamilies checks the IPv6 and gateway-mode options: --ipv4=false
// needs --ipv6 and takes no IPv4 option; IPv6 options need --ipv6; an IPv6
// subnet is one validateSubnet6 takes; gateway modes are Docker's.
func validateFamilies(o CreateOptions) error {
	if o.IPv6 && o.MTU != 0 && o.MTU < 1280 {
		return fmt.Errorf("mtu %d: %w: IPv6 needs an MTU of 1280 or more", o.MTU, ErrInvalid)
	}
	if o.NoIPv4 && !o.IPv6 {
		return fmt.Errorf("--ipv4=false: %w: a network needs IPv4 or IPv6 (add --ipv6)", ErrInvalid)
	}
	if o.NoIPv4 && (o.Subnet.IsValid() || o.Gateway.IsValid() || o.IPRange.IsValid() || o.GatewayMode4 != "") {
		return fmt.Errorf("--ipv4=false: %w: IPv4 options given for a network without IPv4", ErrInvalid)
	}
	if !o.IPv6 && (o.Subnet6.IsValid() || o.Gateway6.IsValid() || o.IPRange6.IsValid() || o.GatewayMode6 != "") {
		return fmt.Errorf("IPv6 options given without --ipv6: %w", ErrInvalid)
	}
	for _, m := range []string{o.GatewayMode4, o.GatewayMode6} {
		if !firewall.ValidMode(m) {
			return fmt.Errorf("gateway mode %q: %w: want nat, nat-unprotected, routed or isolated", m, ErrInvalid)
		}
	}
	if o.Subnet6.IsValid() {
		return validateSubnet6(o.Subnet6)
	}
	return nil
}

// validateSubnet6 checks an IPv6 subnet given to create: between a /48
// and a /120, no host bits, a global or unique-local unicast range (not
// loopback, link-local, multicast, unspecified or IPv4-mapped).
func validateSubnet6(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case !a.Is6() || a.Is4In6():
		return fmt.Errorf("subnet %s: %w: not an IPv6 prefix", p, ErrInvalid)
	case p.Bits() < 48:
		return fmt.Errorf("subnet %s: %w: too large (want a /48 to a /120)", p, ErrInvalid)
	case p.Bits() > 120:
		return fmt.Errorf("subnet %s: %w: too small (want a /48 to a /120)", p, ErrInvalid)
	case p != p.Masked():
		return fmt.Errorf("subnet %s: %w: host bits set (did you mean %s?)", p, ErrInvalid, p.Masked())
	case a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified():
		return fmt.Errorf("subnet %s: %w: not a unicast range a bridge can route", p, ErrInvalid)
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
