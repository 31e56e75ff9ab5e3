package iptables

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/lockfile"
)

// Firewall is the iptables implementation of firewall.Firewall: it installs
// and removes plumb's iptables rules, and the ip6tables rules of the
// networks with an IPv6 subnet. Its methods are safe for concurrent use
// within a process; across processes see New.
type Firewall struct {
	mu       sync.Mutex
	run      runner // iptables
	lockPath string

	// run6 runs ip6tables; nil when it is not installed (err6 says why).
	run6 runner
	err6 error
	// ipv6 reports whether the calling thread's namespace has IPv6; nil:
	// always.
	ipv6 func() bool

	// variant reports whether iptables is iptables-nft (execVariant, run
	// once); nil with a fake runner.
	variant func() (bool, error)
}

var _ firewall.Firewall = (*Firewall)(nil)

// New returns a Firewall using the iptables, iptables-save and
// iptables-restore found in $PATH (iptables-nft or legacy, whichever
// `iptables` is), and ip6tables, ip6tables-save and ip6tables-restore for
// the networks with an IPv6 subnet. It changes nothing and execs nothing.
// A host without ip6tables, or whose kernel has no IPv6, still gets a
// Firewall: its IPv4-only networks work as ever (ip6tables is never run
// for them), and a network with an IPv6 subnet is refused with an error
// saying why.
//
// Every call that writes holds an exclusive flock on lockPath (created,
// with its directory, if missing) from the moment it reads the ruleset
// until it has written it. Every plumb process that changes one firewall
// (one network namespace's) must pass the same path (plumb passes
// RUNDIR/firewall.lock): the read-compute-write cycle is not
// atomic otherwise, and two processes creating two networks at once could
// both see a jump missing and both insert it. With lockPath "" no file is
// locked and the caller must serialize calls across processes itself.
func New(lockPath string) (*Firewall, error) {
	r, err := newExecRunner()
	if err != nil {
		return nil, fmt.Errorf("setting up iptables: %w", err)
	}
	f := newFirewall(r, lockPath)
	f.variant = sync.OnceValues(func() (bool, error) { return execVariant(r.iptablesPath) })
	if r6, err := newFamilyRunner(true); err != nil {
		f.err6 = err
	} else {
		f.run6, f.err6, f.ipv6 = r6, nil, kernelHasIPv6
	}
	return f, nil
}

// newFirewall is a Firewall over r for IPv4 only (no ip6tables).
func newFirewall(r runner, lockPath string) *Firewall {
	return &Firewall{run: r, lockPath: lockPath, err6: errNoIP6tables}
}

// newFirewall6 is a Firewall over r for iptables and r6 for ip6tables.
func newFirewall6(r, r6 runner, lockPath string) *Firewall {
	return &Firewall{run: r, run6: r6, lockPath: lockPath}
}

// LockPath is the file whose flock orders this Firewall's writes across
// processes ("" when none is taken).
func (f *Firewall) LockPath() string { return f.lockPath }

// Backend returns "iptables".
func (f *Firewall) Backend() string { return "iptables" }

// lock takes the in-process mutex and, when configured, an exclusive flock
// on the lock file, creating the file (mode 0600) and its directory when
// missing. Equivalent to: `flock PATH ...`.
//
// The lock is plumb's own: the xtables lock (/run/xtables.lock) cannot be
// used, because iptables-restore --wait takes it in a child process and
// would wait forever on the lock its parent holds.
func (f *Firewall) lock() (unlock func(), err error) {
	f.mu.Lock()
	if f.lockPath == "" {
		return f.mu.Unlock, nil
	}
	if err := os.MkdirAll(filepath.Dir(f.lockPath), 0o755); err != nil {
		f.mu.Unlock()
		return nil, fmt.Errorf("creating directory of lock file %s: %w", f.lockPath, err)
	}
	l, err := lockfile.Acquire(f.lockPath)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	return func() { l.Unlock(); f.mu.Unlock() }, nil
}

// EnsureNetwork makes plumb's chains and their jumps exist, creating what is
// missing, and n's rules (see Rules) present exactly once, in order. It is
// safe to call twice and repairs what it finds missing, duplicated or out of
// place: a deleted rule is put back, a jump that something was inserted
// above is moved back to position 1, the rules of an older config of the
// same network name are replaced. It costs one iptables-save, plus one
// iptables-restore --noflush when anything must change. Each table is
// changed atomically; if the restore fails, EnsureNetwork reads again and
// retries once. Equivalent to, on a host without plumb:
//
//	iptables -N PLUMB-FORWARD
//	iptables -N PLUMB-ISOLATION-1
//	iptables -N PLUMB-ISOLATION-2
//	iptables -I FORWARD 1 -m comment --comment plumb -j PLUMB-FORWARD
//	iptables -I PLUMB-FORWARD 1 -m comment --comment plumb -j PLUMB-ISOLATION-1
//	iptables -A PLUMB-FORWARD ...      (and the other rules of Rules(n))
//	iptables -t nat -N PLUMB-POSTROUTING
//	iptables -t nat -I POSTROUTING 1 -m comment --comment plumb -j PLUMB-POSTROUTING
//	iptables -t nat -A PLUMB-POSTROUTING -s S ! -o BR -m comment --comment plumb:NAME -j MASQUERADE
//
// When a table did not exist before (iptables-nft, nothing used it yet),
// the jump into it carries the comment "plumb created-table" instead, so the
// last DeleteNetwork removes the table again.
//
// A network with an IPv6 Subnet6 gets the same with ip6tables (its
// ip6tables rules, see Rules): one ip6tables-save and at most one
// ip6tables-restore more. The two restores are all or nothing: when the
// ip6tables one fails, the iptables one is undone. A network without
// Subnet6 runs no ip6tables command, one without an IPv4 Subnet no
// iptables command.
func (f *Firewall) EnsureNetwork(n firewall.Network) error {
	if err := n.Validate(); err != nil {
		return fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
	}
	unlock, err := f.lock()
	if err != nil {
		return fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
	}
	defer unlock()
	// A restore fails when the ruleset changed under it since the read (a
	// chain it creates appeared, a rule it deletes vanished): another writer
	// not holding the lock file. Read and try once more.
	for attempt := 1; ; attempt++ {
		err = f.ensureOnce(n)
		if err == nil || attempt == 2 || !errors.Is(err, errRestore) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
	}
	return nil
}

// errRestore marks a failed iptables-restore, the error EnsureNetwork retries.
var errRestore = errors.New("ruleset not changed")

// ensureOnce reads the ruleset of each family of n and writes what n is
// missing.
func (f *Firewall) ensureOnce(n firewall.Network) error { return f.ensureFamilies(n, families(n)) }

// DeleteNetwork removes the rules of the network named name: the rules
// commented "plumb:NAME" or "plumb:NAME/..." in plumb's chains. The name is
// all it needs, so a drifted or lost config still deletes what was
// installed. Rules already gone are success.
//
// When no rule of any other plumb network remains, it removes plumb's jumps
// and chains too, and drops the tables plumb created that are then empty, so
// that iptables-save prints exactly what it printed before the first
// EnsureNetwork (modulo packet counters; see the package doc for the one
// iptables-legacy exception). Equivalent to:
//
//	iptables -D PLUMB-FORWARD ... -m comment --comment plumb:NAME ...   (each rule)
//
// and, for the last network:
//
//	iptables -D FORWARD -m comment --comment plumb -j PLUMB-FORWARD
//	iptables -F PLUMB-FORWARD; iptables -F PLUMB-ISOLATION-1; iptables -F PLUMB-ISOLATION-2
//	iptables -X PLUMB-FORWARD; iptables -X PLUMB-ISOLATION-1; iptables -X PLUMB-ISOLATION-2
//	iptables -t nat -D POSTROUTING -m comment --comment plumb -j PLUMB-POSTROUTING
//	iptables -t nat -F PLUMB-POSTROUTING; iptables -t nat -X PLUMB-POSTROUTING
//	printf '*nat\nCOMMIT\n' | iptables-restore   (only a table plumb created, only
//	                                            if empty; iptables-nft: nft delete table ip nat)
//
// The changes go in one iptables-restore --noflush. If it fails (say a rule
// vanished between the read and the write), every change is retried as its
// own iptables command, keeping going past errors; the errors are returned
// joined. The same is done with ip6tables (the name does not tell whether
// the network had IPv6), except on a host where ip6tables cannot be used,
// where no network can have IPv6 rules; the last network's delete leaves
// ip6tables-save as it was before the first EnsureNetwork too.
func (f *Firewall) DeleteNetwork(name string) error {
	if err := firewall.ValidateName(name); err != nil {
		return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
	}
	unlock, err := f.lock()
	if err != nil {
		return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
	}
	defer unlock()
	var errs []error
	for _, v6 := range f.readFamilies() {
		s, err := f.snapshotOf(v6)
		if err != nil {
			return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
		}
		p, err := planDelete(s, name)
		if err != nil {
			return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
		}
		r, _ := f.runnerOf(v6) // snapshotOf succeeded
		errs = append(errs, deletePlan(r, p)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
	}
	return nil
}

// deletePlan applies p, a planDelete of one family, with r: one restore,
// or one command per op should it fail; then the tables p drops. It
// returns every error.
func deletePlan(r runner, p plan) []error {
	var errs []error
	if len(p.ops) > 0 {
		if err := r.restore(p.payload(), true); err != nil {
			for _, o := range p.ops {
				if err := r.apply(o); err != nil {
					errs = append(errs, err)
				}
			}
			if len(errs) > 0 {
				errs = append([]error{err}, errs...)
			}
		}
	}
	for _, t := range p.whole {
		if err := dropWhole(r, t, p.wholeOps[t]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		for _, t := range p.drop {
			if err := r.restore(dropPayload(t), false); err != nil {
				errs = append(errs, fmt.Errorf("removing empty table %s: %w", t, err))
			}
		}
	}
	return errs
}

// dropWhole drops table t, plumb's rules and chains with it, in one
// restore. Should that fail, it removes plumb's rules and chains one
// command at a time (ops), then the empty table. Equivalent to:
// `printf '*nat\nCOMMIT\n' | iptables-restore`.
func dropWhole(r runner, t string, ops []op) error {
	err := r.restore(dropPayload(t), false)
	if err == nil {
		return nil
	}
	var errs []error
	for _, o := range ops {
		if err := r.apply(o); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(append([]error{err}, errs...)...)
	}
	if err := r.restore(dropPayload(t), false); err != nil {
		return fmt.Errorf("removing empty table %s: %w", t, err)
	}
	return nil
}
