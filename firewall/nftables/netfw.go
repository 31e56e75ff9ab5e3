package nftables

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	nft "github.com/google/nftables"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/lockfile"
	"github.com/plumbnet/plumb/internal/nfwatch"
)

// Firewall is the nftables backend of firewall.Firewall: plumb's networks
// and published ports in `table inet plumb-networks`, which it owns whole,
// written over netlink (never `nft`), every change one batch the kernel
// applies whole or not at all (see netdefs.go for the table). It works in
// the network namespace of the calling thread; its methods are safe for
// concurrent use within a process, and across processes see NewFirewall.
type Firewall struct {
	mu       sync.Mutex
	lockPath string

	// out is the dry run's emitter (NewScript), nil for a real Firewall;
	// st is then the dry run's copy of the tables, read on first use.
	out Emitter
	st  *netState
}

var (
	_ firewall.Firewall    = (*Firewall)(nil)
	_ firewall.Watcher     = (*Firewall)(nil)
	_ firewall.PortDeleter = (*Firewall)(nil)
)

// NewFirewall returns the nftables backend. Every call that writes holds
// an exclusive flock on lockPath (created, with its directory, if
// missing; plumb passes RUNDIR/firewall.lock, the iptables backend's)
// from its read of the table to the end of its write. With "" the callers
// must serialize across processes. It changes nothing and opens no
// socket; the error is for symmetry with the other constructors.
func NewFirewall(lockPath string) (*Firewall, error) {
	return &Firewall{lockPath: lockPath}, nil
}

// NewScript returns the nftables backend of a dry run: it reads the
// tables once (on first use), plans each change exactly as NewFirewall's
// does, and hands it to out instead of writing it, as one
//
//	nft -f - <<'EOF'
//	add element inet plumb-networks ports { tcp . 8080 comment "plumb:NET/EP" : 172.30.0.2 . 80 }
//	EOF
//
// block per change (the coexistence rules it would insert into iptables'
// filter table as an `iptables-restore --noflush` block), applying each
// to its copy of the tables, from which its later plans and checks read.
// It changes nothing and takes no lock.
func NewScript(out Emitter) (*Firewall, error) {
	return &Firewall{out: out}, nil
}

// Available reports whether nf_tables works in the network namespace of
// the calling thread: a netlink socket opens and the kernel lists the
// inet tables (which loads nf_tables when it is a module). nil means
// NewFirewall's writes can be tried. Equivalent to: `nft list tables
// inet`.
func Available() error {
	c, err := dial()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	defer c.CloseLasting()
	if _, err := c.ListTablesOfFamily(nft.TableFamilyINet); err != nil {
		return fmt.Errorf("nftables: listing the inet tables: %w", err)
	}
	return nil
}

// Backend returns "nftables".
func (f *Firewall) Backend() string { return "nftables" }

// LockPath is the file whose flock orders this Firewall's writes across
// processes ("" when none is taken).
func (f *Firewall) LockPath() string { return f.lockPath }

// lock takes the in-process mutex and, when configured (not in a dry
// run), the flock on the lock file. Equivalent to: `flock PATH ...`.
func (f *Firewall) lock() (unlock func(), err error) {
	f.mu.Lock()
	if f.lockPath == "" || f.out != nil {
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

// do runs one read, plan, write cycle under the lock: it reads the
// tables (only the port maps unless all), plans with plan, and writes the
// plan as one netlink batch; a dry run renders it instead and applies it
// to its copy. It reports whether there was anything to write.
func (f *Firewall) do(all bool, plan func(st *netState) []netOp) (bool, error) {
	unlock, err := f.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	if f.out != nil {
		st, err := f.scriptState()
		if err != nil {
			return false, err
		}
		ops := plan(st)
		f.emit(ops)
		st.apply(ops)
		return len(ops) > 0, nil
	}
	c, err := dial()
	if err != nil {
		return false, err
	}
	defer c.CloseLasting()
	st, err := readNet(c, all)
	if err != nil {
		return false, err
	}
	ops := plan(st)
	if len(ops) == 0 {
		return false, nil
	}
	return true, write(c, ops)
}

// write sends ops on c as one batch.
func write(c *nft.Conn, ops []netOp) error {
	if err := queueNet(c, ops); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("writing table inet %s: %w", NetTable, err)
	}
	return nil
}

// scriptState is the dry run's copy of the tables, read on first use.
func (f *Firewall) scriptState() (*netState, error) {
	if f.st != nil {
		return f.st, nil
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	if f.st, err = readNet(c, true); err != nil {
		return nil, err
	}
	return f.st, nil
}

// emit hands ops to the dry run's emitter.
func (f *Firewall) emit(ops []netOp) {
	nftText, iptText := renderNet(ops)
	if nftText != "" {
		f.out.Heredoc(nftText, "nft", "-f", "-")
	}
	if iptText != "" {
		f.out.Heredoc(iptText, "iptables-restore", "--noflush")
	}
	if ip6tText := renderForeign6(ops); ip6tText != "" {
		f.out.Heredoc(ip6tText, "ip6tables-restore", "--noflush")
	}
}

// Watch calls changed after every change of the nftables ruleset in the
// network namespace of the calling thread (any table, anyone's change),
// until ctx ends (then nil): once when it listens, then once per nf_tables
// transaction. changed must not block. The error wraps
// errors.ErrUnsupported when the kernel refuses the notifications.
// Equivalent to: `nft monitor`.
func (f *Firewall) Watch(ctx context.Context, changed func()) error {
	if err := nfwatch.Watch(ctx, changed); err != nil {
		return fmt.Errorf("watching the nftables ruleset: %w", err)
	}
	return nil
}
