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
	Subnet     netip.Prefix // IPv4 subnet of the network
	Internal   bool         // no traffic in or out of the bridge, no masquerade
	ICC        bool         // inter-container communication on the bridge
	Masquerade bool         // SNAT traffic leaving the subnet (ignored when Internal)
}

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
// [A-Za-z0-9_.-]), and a valid IPv4 subnet. Errors wrap ErrInvalidNetwork.
func (n Network) Validate() error {
	if err := ValidateName(n.Name); err != nil {
		return err
	}
	if err := ValidateBridge(n.Bridge); err != nil {
		return err
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() {
		return fmt.Errorf("subnet %s: %w: want an IPv4 prefix", n.Subnet, ErrInvalidNetwork)
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
