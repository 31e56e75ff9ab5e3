package firewall

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/plumbnet/plumb/internal/name"
)

// Network is what the firewall needs to know about one plumb network.
// The zero value of the booleans is the strict choice: ICC false drops
// traffic between containers of the same network, Masquerade false makes no
// NAT rule. Callers mirroring Docker's defaults set ICC and Masquerade to true.
type Network struct {
	Name       string       // plumb network name, used in the rule comment "plumb:NAME"
	Bridge     string       // Linux bridge of the network, e.g. "br-plumb0"
	Subnet     netip.Prefix // IPv4 subnet of the network; zero for an IPv6-only network
	Subnet6    netip.Prefix // IPv6 subnet of the network; zero for an IPv4-only network
	Internal   bool         // no traffic in or out of the bridge, no masquerade
	ICC        bool         // inter-container communication on the bridge
	Masquerade bool         // SNAT traffic leaving the subnet (ignored when Internal); both families
	// Mode4 and Mode6 are the gateway mode of each family (Docker's
	// com.docker.network.bridge.gateway_mode_ipv4/6): "" or ModeNAT,
	// ModeNATUnprotected, ModeRouted, ModeIsolated.
	Mode4, Mode6 string
}

// The gateway modes of a network's address family, as Docker 28 has them.
const (
	// ModeNAT masquerades traffic leaving the subnet (when Masquerade) and
	// lets in from outside only published ports (DNAT). The default ("").
	ModeNAT = "nat"
	// ModeNATUnprotected is ModeNAT that also lets in from outside any
	// traffic routed to a container's address.
	ModeNATUnprotected = "nat-unprotected"
	// ModeRouted does not masquerade: containers are seen by their own
	// addresses, and from outside only their published ports
	// (container address and container port) are reachable.
	ModeRouted = "routed"
	// ModeIsolated gives the family no gateway: no traffic in or out of
	// the bridge for it, as Internal.
	ModeIsolated = "isolated"
)

// ValidMode reports whether m is a gateway mode ("" is ModeNAT).
func ValidMode(m string) bool {
	switch m {
	case "", ModeNAT, ModeNATUnprotected, ModeRouted, ModeIsolated:
		return true
	}
	return false
}

// Masq4 reports whether IPv4 traffic leaving n's subnet is masqueraded.
func (n Network) Masq4() bool {
	return n.Subnet.IsValid() && n.Masquerade && !n.Internal && natMode(n.Mode4)
}

// Masq6 reports whether IPv6 traffic leaving n's subnet is masqueraded (NAT66).
func (n Network) Masq6() bool {
	return n.Subnet6.IsValid() && n.Masquerade && !n.Internal && natMode(n.Mode6)
}

func natMode(m string) bool { return m == "" || m == ModeNAT || m == ModeNATUnprotected }

// ErrInvalidNetwork is wrapped by every error Validate returns.
var ErrInvalidNetwork = errors.New("invalid network")

// nameOK is Docker's network name pattern, [A-Za-z0-9][A-Za-z0-9_.-]*.
// Keeping names to it keeps every rule comment a single unquoted token and
// out of reach of ":" and spaces.
func nameOK(s string) bool { return s != "" && name.Valid(s, 1, len(s), false) }

// maxNameLen keeps "plumb:" + Name within the 256 bytes of xt_comment.
const maxNameLen = 200

// Validate reports whether n can be turned into rules: a name made of
// [A-Za-z0-9_.-] (at most 200 bytes, not starting with a punctuation mark),
// a bridge name valid for the kernel and for iptables (1 to 15 bytes of
// [A-Za-z0-9_.-]), a valid IPv4 Subnet and/or a valid IPv6 Subnet6 (at
// least one), and known gateway modes. Errors wrap ErrInvalidNetwork.
func (n Network) Validate() error {
	if err := ValidateName(n.Name); err != nil {
		return err
	}
	if err := ValidateBridge(n.Bridge); err != nil {
		return err
	}
	if n.Subnet.IsValid() && !n.Subnet.Addr().Is4() {
		return fmt.Errorf("subnet %s: %w: want an IPv4 prefix", n.Subnet, ErrInvalidNetwork)
	}
	if n.Subnet6.IsValid() && !n.Subnet6.Addr().Is6() {
		return fmt.Errorf("subnet %s: %w: want an IPv6 prefix", n.Subnet6, ErrInvalidNetwork)
	}
	if !n.Subnet.IsValid() && !n.Subnet6.IsValid() {
		return fmt.Errorf("network %q: %w: no subnet", n.Name, ErrInvalidNetwork)
	}
	if !ValidMode(n.Mode4) || !ValidMode(n.Mode6) {
		return fmt.Errorf("network %q: %w: gateway mode %q/%q: want nat, nat-unprotected, routed or isolated", n.Name, ErrInvalidNetwork, n.Mode4, n.Mode6)
	}
	return nil
}

// ValidateName reports whether name is a valid network name (see Validate),
// all that DeleteNetwork needs. Errors wrap ErrInvalidNetwork.
func ValidateName(name string) error {
	if !nameOK(name) || len(name) > maxNameLen {
		return fmt.Errorf("network name %q: %w: want [A-Za-z0-9][A-Za-z0-9_.-]*, at most %d bytes", name, ErrInvalidNetwork, maxNameLen)
	}
	return nil
}
