package nftables

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	nft "github.com/google/nftables"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/lockfile"
	"github.com/plumbnet/plumb/internal/sysctl"
)

// LocalnetGuard is firewall.LocalnetGuard in plumb's nftables table (see
// the package doc). It works in the network namespace of the calling
// thread; its methods are safe for concurrent use within a process, and
// across processes see NewLocalnetGuard.
type LocalnetGuard struct {
	mu       sync.Mutex
	lockPath string
}

var _ firewall.LocalnetGuard = (*LocalnetGuard)(nil)

// NewLocalnetGuard returns a guard that holds an exclusive flock on
// lockPath (created, with its directory, if missing) from its read of the
// table to the end of its write, so that a DeleteLocalnetGuard that removes
// the table cannot remove a guard another process adds meanwhile. Every
// plumb process must pass the same path; the iptables backend's lock file
// will do, as the calls do not nest. With "" the callers must serialize.
// It changes nothing and opens no socket.
func NewLocalnetGuard(lockPath string) *LocalnetGuard {
	return &LocalnetGuard{lockPath: lockPath}
}

// EnsureLocalnetGuard makes the guard of bridge present. It reads the
// table, then writes what is missing in one netlink batch, which the
// kernel applies whole or not at all. When the table, the set and the
// chain with exactly the guard's rules are there, that is bridge's element
// alone, or nothing; otherwise the table, the set and the chain are
// created when missing, the chain's rules are replaced by the guard's (so
// a rule deleted or added by hand is repaired), and bridge is added to the
// set. Other bridges' elements and anything else in the table stay.
// Equivalent to, when the guard is damaged or absent:
//
//	nft -f - <<EOF
//	add table inet plumb
//	add set inet plumb localnet_bridges { type ifname; }
//	add chain inet plumb localnet_guard { type filter hook input priority filter; policy accept; }
//	flush chain inet plumb localnet_guard
//	add rule inet plumb localnet_guard iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state invalid,untracked counter drop
//	add rule inet plumb localnet_guard iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state new ct status ! dnat counter drop
//	add element inet plumb localnet_bridges { "BRIDGE" }
//	EOF
func (g *LocalnetGuard) EnsureLocalnetGuard(bridge string) error {
	if err := firewall.ValidateBridge(bridge); err != nil {
		return fmt.Errorf("ensuring the localnet guard: %w", err)
	}
	unlock, err := g.lock()
	if err != nil {
		return fmt.Errorf("ensuring the localnet guard of %q: %w", bridge, err)
	}
	defer unlock()
	c, err := dial()
	if err != nil {
		return fmt.Errorf("ensuring the localnet guard of %q: %w", bridge, err)
	}
	defer c.CloseLasting()
	st, err := readTable(c)
	if err != nil {
		return fmt.Errorf("ensuring the localnet guard of %q: %w", bridge, err)
	}
	if err := queue(c, planEnsure(st, bridge)); err != nil {
		return fmt.Errorf("ensuring the localnet guard of %q: %w", bridge, err)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("ensuring the localnet guard of %q: writing table inet %s: %w", bridge, TableName, err)
	}
	return nil
}

// DeleteLocalnetGuard removes bridge from the set of guarded bridges, in
// one netlink batch. When no bridge is left guarded, the guard's chain and
// set go too, and the table with them when they were all it held, so that
// `nft list ruleset` is what it was before the first EnsureLocalnetGuard.
// It refuses, wrapping firewall.ErrLocalnetOn, while an interface named
// bridge has route_localnet on (`sysctl net.ipv4.conf.BRIDGE.route_localnet`
// is 1): delete the bridge, or turn it off, first. A guard or table already
// gone is success. Equivalent to:
//
//	nft delete element inet plumb localnet_bridges { "BRIDGE" }
//	nft delete table inet plumb        (the last bridge, nothing else in it)
func (g *LocalnetGuard) DeleteLocalnetGuard(bridge string) error {
	if err := firewall.ValidateBridge(bridge); err != nil {
		return fmt.Errorf("deleting the localnet guard: %w", err)
	}
	unlock, err := g.lock()
	if err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: %w", bridge, err)
	}
	defer unlock()
	if on, err := routeLocalnet(bridge); err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: %w", bridge, err)
	} else if on {
		return fmt.Errorf("deleting the localnet guard of %q: interface %q %w", bridge, bridge, firewall.ErrLocalnetOn)
	}
	c, err := dial()
	if err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: %w", bridge, err)
	}
	defer c.CloseLasting()
	st, err := readTable(c)
	if err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: %w", bridge, err)
	}
	if err := queue(c, planDelete(st, bridge)); err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: %w", bridge, err)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("deleting the localnet guard of %q: writing table inet %s: %w", bridge, TableName, err)
	}
	return nil
}

// CheckLocalnetGuard reports whether the guard of bridge is as
// EnsureLocalnetGuard leaves it: the table, the set of type ifname holding
// bridge, the chain at the input hook with priority filter and policy
// accept, holding exactly the guard's rules. It changes nothing and takes
// no lock. Equivalent to reading `nft list table inet plumb`.
func (g *LocalnetGuard) CheckLocalnetGuard(bridge string) error {
	if err := firewall.ValidateBridge(bridge); err != nil {
		return fmt.Errorf("checking the localnet guard: %w", err)
	}
	c, err := dial()
	if err != nil {
		return fmt.Errorf("checking the localnet guard of %q: %w", bridge, err)
	}
	defer c.CloseLasting()
	st, err := readTable(c)
	if err != nil {
		return fmt.Errorf("checking the localnet guard of %q: %w", bridge, err)
	}
	return st.check(bridge)
}

// CheckLocalnetGuards is CheckLocalnetGuard for each of bridges, from one
// reading of the table. Equivalent to reading `nft list table inet plumb`
// once.
func (g *LocalnetGuard) CheckLocalnetGuards(bridges []string) (map[string]error, error) {
	c, err := dial()
	if err != nil {
		return nil, fmt.Errorf("checking the localnet guard: %w", err)
	}
	defer c.CloseLasting()
	st, err := readTable(c)
	if err != nil {
		return nil, fmt.Errorf("checking the localnet guard: %w", err)
	}
	return st.checkAll(bridges), nil
}

// check is CheckLocalnetGuard of bridge against st.
func (st *tableState) check(bridge string) error {
	return st.checkAll([]string{bridge})[bridge]
}

// checkAll is CheckLocalnetGuards against st.
func (st *tableState) checkAll(bridges []string) map[string]error {
	shared := st.structureProblems()
	out := map[string]error{}
	for _, br := range bridges {
		problems := shared
		if st.hasSet && !st.guarded[br] {
			problems = append(slices.Clip(problems), fmt.Errorf("bridge %q not in set %s", br, SetName))
		}
		if len(problems) > 0 {
			out[br] = fmt.Errorf("localnet guard of bridge %q is not in place: %w", br, errors.Join(problems...))
		}
	}
	return out
}

// dial opens one netlink socket for a whole call, in the network namespace
// of the calling thread.
func dial() (*nft.Conn, error) {
	c, err := nft.New(nft.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("opening nftables netlink socket: %w", err)
	}
	return c, nil
}

// routeLocalnet reports whether an interface named ifname exists with
// route_localnet on. Equivalent to: `sysctl -n
// net.ipv4.conf.IFNAME.route_localnet` (no such interface: off).
func routeLocalnet(ifname string) (bool, error) {
	v, err := sysctl.Get("net/ipv4/conf/" + ifname + "/route_localnet")
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return v != "0", nil
}

// lock takes the in-process mutex and, when configured, the flock on the
// lock file. Equivalent to: `flock PATH ...`.
func (g *LocalnetGuard) lock() (unlock func(), err error) {
	g.mu.Lock()
	if g.lockPath == "" {
		return g.mu.Unlock, nil
	}
	if err := os.MkdirAll(filepath.Dir(g.lockPath), 0o755); err != nil {
		g.mu.Unlock()
		return nil, fmt.Errorf("creating directory of lock file %s: %w", g.lockPath, err)
	}
	l, err := lockfile.Acquire(g.lockPath)
	if err != nil {
		g.mu.Unlock()
		return nil, err
	}
	return func() { l.Unlock(); g.mu.Unlock() }, nil
}
