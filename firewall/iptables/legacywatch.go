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
// getsockopt that iptables-legacy itself starts with; IP6T_SO_GET_INFO
// (linux/netfilter_ipv6/ip6_tables.h) is the same number.
const iptSOGetInfo = 64

// iptGetinfo is struct ipt_getinfo (and struct ip6t_getinfo, the same).
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
// offsets, for iptables and, where the kernel has it, ip6tables. A rule
// replaced by one of the same size (`iptables -R`) is the one change it
// misses. Its handles belong to the namespace of the thread that opened
// them, so it may be read from any thread.
type legacyProbe struct {
	fams []*legacyFamily // IPv4, then IPv6 when there
}

// legacyFamily is the probe of one family's legacy tables.
type legacyFamily struct {
	sock  int      // a raw socket of the family, for getsockopt
	level int      // IPPROTO_IP or IPPROTO_IPV6
	names *os.File // /proc/thread-self/net/ip_tables_names (ip6_tables_names)
	tag   string   // "" or "6", put before each table's name in a reading
}

// openLegacyProbe opens the probe in the calling thread's namespace. The
// error wraps errors.ErrUnsupported when the kernel has no legacy tables
// or refuses (no CAP_NET_RAW/CAP_NET_ADMIN). The IPv6 tables are probed
// too when the kernel lists them (ip6_tables loaded), else left out.
func openLegacyProbe() (*legacyProbe, error) {
	v4, err := openLegacyFamily("ip_tables_names", unix.AF_INET, unix.IPPROTO_IP, "")
	if err != nil {
		return nil, err
	}
	p := &legacyProbe{fams: []*legacyFamily{v4}}
	if v6, err := openLegacyFamily("ip6_tables_names", unix.AF_INET6, unix.IPPROTO_IPV6, "6"); err == nil {
		p.fams = append(p.fams, v6)
	}
	return p, nil
}

func openLegacyFamily(namesFile string, af, level int, tag string) (*legacyFamily, error) {
	names, err := os.Open("/proc/thread-self/net/" + namesFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading the legacy tables: no %s in the kernel: %w: %w", namesFile, errors.ErrUnsupported, err)
		}
		return nil, fmt.Errorf("reading the legacy tables: %w", err)
	}
	sock, err := unix.Socket(af, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		names.Close()
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			err = fmt.Errorf("%w: %w", errors.ErrUnsupported, err)
		}
		return nil, fmt.Errorf("opening a raw socket to read the legacy tables: %w", err)
	}
	return &legacyFamily{sock: sock, level: level, names: names, tag: tag}, nil
}

func (p *legacyProbe) Close() {
	for _, f := range p.fams {
		unix.Close(f.sock)
		f.names.Close()
	}
}

// read returns the probe's reading of every legacy table, comparable with
// ==. It never creates a table: only the tables the namespace lists are
// asked about (asking about another would make it). Equivalent to: the
// header iptables-legacy (ip6tables-legacy) reads before `iptables -L`,
// for each table of /proc/net/ip_tables_names (ip6_tables_names).
func (p *legacyProbe) read() (string, error) {
	var b strings.Builder
	for _, f := range p.fams {
		if err := f.read(&b); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

func (f *legacyFamily) read(b *strings.Builder) error {
	raw, err := io.ReadAll(io.NewSectionReader(f.names, 0, 1<<16))
	if err != nil {
		return fmt.Errorf("reading ip%s_tables_names: %w", f.tag, err)
	}
	tables := strings.Fields(string(raw))
	slices.Sort(tables)
	for _, t := range tables {
		info, err := f.info(t)
		if errors.Is(err, unix.ENOENT) {
			continue // removed since listed: the next reading tells
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "%s%s %d %d %v %v %d;", f.tag, t, info.NumEntries, info.Size, info.HookEntry, info.Underflow, info.ValidHooks)
	}
	return nil
}

// info is getsockopt(IPT_SO_GET_INFO) of table (IP6T_SO_GET_INFO, the
// same number and struct, at level IPPROTO_IPV6).
func (f *legacyFamily) info(table string) (iptGetinfo, error) {
	var info iptGetinfo
	copy(info.Name[:len(info.Name)-1], table)
	n := uint32(unsafe.Sizeof(info))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(f.sock), uintptr(f.level), iptSOGetInfo,
		uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return info, fmt.Errorf("reading legacy table %s%s: %w", f.tag, table, e)
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
