package iptables

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// legacyPollEvery is how often Watch reads the legacy tables' sizes: a
// read costs about 10 µs, so four a second cost nothing measurable, and a
// flush is seen within a quarter second.
const legacyPollEvery = 250 * time.Millisecond

// iptSOGetInfo is IPT_SO_GET_INFO (linux/netfilter_ipv4/ip_tables.h), the
// getsockopt that iptables-legacy itself starts with.
const iptSOGetInfo = 64

// iptGetinfo is struct ipt_getinfo.
type iptGetinfo struct {
	Name       [32]byte
	ValidHooks uint32
	HookEntry  [5]uint32
	Underflow  [5]uint32
	NumEntries uint32
	Size       uint32
}

// legacyProbe reads what any change of a legacy (x_tables) table changes:
// which tables exist, and each one's rule count, blob size and chain
// offsets. A rule replaced by one of the same size (`iptables -R`) is the
// one change it misses. Both its handles belong to the namespace of the
// thread that opened them, so it may be read from any thread.
type legacyProbe struct {
	sock  int      // a raw IPv4 socket, for getsockopt
	names *os.File // /proc/thread-self/net/ip_tables_names
}

// openLegacyProbe opens the probe in the calling thread's namespace. The
// error wraps errors.ErrUnsupported when the kernel has no legacy tables
// or refuses (no CAP_NET_RAW/CAP_NET_ADMIN).
func openLegacyProbe() (*legacyProbe, error) {
	names, err := os.Open("/proc/thread-self/net/ip_tables_names")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading the legacy tables: no ip_tables in the kernel: %w: %w", errors.ErrUnsupported, err)
		}
		return nil, fmt.Errorf("reading the legacy tables: %w", err)
	}
	sock, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		names.Close()
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			err = fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
		}
		return nil, fmt.Errorf("opening a raw socket to read the legacy tables: %w", err)
	}
	return &legacyProbe{sock: sock, names: names}, nil
}

func (p *legacyProbe) Close() {
	unix.Close(p.sock)
	p.names.Close()
}

// read returns the probe's reading of every legacy table, comparable with
// ==. It never creates a table: only the tables the namespace lists are
// asked about (asking about another would make it). Equivalent to: the
// header iptables-legacy reads before `iptables -L`, for each table of
// /proc/net/ip_tables_names.
func (p *legacyProbe) read() (string, error) {
	raw, err := io.ReadAll(io.NewSectionReader(p.names, 0, 1<<16))
	if err != nil {
		return "", fmt.Errorf("reading ip_tables_names: %w", err)
	}
	tables := strings.Fields(string(raw))
	slices.Sort(tables)
	var b strings.Builder
	for _, t := range tables {
		info, err := p.info(t)
		if errors.Is(err, unix.ENOENT) {
			continue // removed since listed: the next reading tells
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %d %d %v %v %d;", t, info.NumEntries, info.Size, info.HookEntry, info.Underflow, info.ValidHooks)
	}
	return b.String(), nil
}

// info is getsockopt(IPT_SO_GET_INFO) of table.
func (p *legacyProbe) info(table string) (iptGetinfo, error) {
	var info iptGetinfo
	copy(info.Name[:len(info.Name)-1], table)
	n := uint32(unsafe.Sizeof(info))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(p.sock), unix.IPPROTO_IP, iptSOGetInfo,
		uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return info, fmt.Errorf("reading legacy table %s: %w", table, e)
	}
	return info, nil
}

// watchLegacy is Watch for iptables-legacy: it reads the probe every
// legacyPollEvery and calls changed when the reading differs from the
// previous one.
func watchLegacy(ctx context.Context, changed func()) error {
	p, err := openLegacyProbe()
	if err != nil {
		return err
	}
	defer p.Close()
	last, err := p.read()
	if err != nil {
		return err
	}
	changed()
	tick := time.NewTicker(legacyPollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := p.read()
		if err != nil {
			return err
		}
		if cur != last {
			last = cur
			changed()
		}
	}
}
