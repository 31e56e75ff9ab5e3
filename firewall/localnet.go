package firewall

import (
	"errors"
	"fmt"

	"github.com/plumbnet/plumb/internal/name"
)

// LocalnetGuard keeps the host's loopback services out of reach of the
// containers behind plumb's bridges.
//
// plumb turns net.ipv4.conf.BRIDGE.route_localnet on so that a connection
// to a port published on 127.0.0.1 may be DNATed out through the bridge.
// The same switch lets a container that routes 127.0.0.0/8 via its gateway
// reach whatever listens on the host's 127.0.0.1. The guard drops that
// traffic: a packet that comes in from a guarded bridge, is addressed to
// 127.0.0.0/8 and belongs to no connection the host DNATed (kube-proxy's
// rule, `! --ctstate RELATED,ESTABLISHED,DNAT`). The iptables backend has
// the same rule in PLUMB-INPUT; the guard is the one that an `iptables -F`
// does not remove (package firewall/nftables: plumb's own nftables table).
//
// The order is the caller's guarantee, so that route_localnet is never on
// without its guard: EnsureLocalnetGuard(br) before route_localnet goes on
// on br (before `ip link add br`, since bridge.Ensure turns it on), and
// DeleteLocalnetGuard(br) only once br is gone or its route_localnet off.
type LocalnetGuard interface {
	// EnsureLocalnetGuard makes the guard of bridge present, creating
	// what is missing, the guard of other bridges untouched. The bridge
	// need not exist yet. Safe to call twice; it repairs a guard it finds
	// damaged. Equivalent to (nftables backend):
	//	nft add element inet plumb localnet_bridges '{ "BRIDGE" }'
	EnsureLocalnetGuard(bridge string) error

	// DeleteLocalnetGuard removes the guard of bridge, and what every
	// guard shares once no bridge is guarded. It refuses, with
	// ErrLocalnetOn, while an interface named bridge has route_localnet
	// on. A guard already gone is success. Equivalent to:
	//	nft delete element inet plumb localnet_bridges '{ "BRIDGE" }'
	DeleteLocalnetGuard(bridge string) error

	// CheckLocalnetGuard reports whether the guard of bridge is in place,
	// as EnsureLocalnetGuard leaves it. It changes nothing; the error
	// lists every problem found.
	CheckLocalnetGuard(bridge string) error

	// GuardedBridges lists the bridges whose guard is in place, sorted,
	// whether or not a network still has them (doctor looks for those
	// left by an interrupted create). It changes nothing. Equivalent to:
	//	nft list set inet plumb localnet_bridges
	GuardedBridges() ([]string, error)

	// CheckLocalnetGuards is CheckLocalnetGuard for each of bridges from
	// one reading of the guard: the error of each bridge whose guard is not
	// in place (none for a sound one). It changes nothing.
	CheckLocalnetGuards(bridges []string) (map[string]error, error)
}

// ErrLocalnetOn is wrapped by DeleteLocalnetGuard's error when the bridge
// still has route_localnet on: removing its guard then would open the
// host's loopback to the bridge.
var ErrLocalnetOn = errors.New("still has route_localnet on")

// ValidateBridge reports whether br is a name the guard and the rules can
// hold: 1 to 15 bytes of [A-Za-z0-9_.-], not "." or "..". Errors wrap
// ErrInvalidNetwork.
func ValidateBridge(br string) error {
	if !bridgeOK(br) || len(br) > 15 || br == "." || br == ".." {
		return fmt.Errorf("bridge name %q: %w: want 1 to 15 bytes of [A-Za-z0-9_.-]", br, ErrInvalidNetwork)
	}
	return nil
}

// bridgeOK, [A-Za-z0-9_.-]+, excludes "+", which iptables reads as an
// interface wildcard, and everything the kernel refuses in an interface
// name.
func bridgeOK(s string) bool { return s != "" && name.Token(s) }
