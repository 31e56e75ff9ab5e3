package ipam

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/atomicfile"
	"github.com/plumbnet/plumb/internal/lockfile"
)

// testHookReserve, when set, runs inside Reserve once the owner is written
// and before the address file gets its name.
var testHookReserve func(ip netip.Addr)

// DiskStore is the file-backed Store. Under Dir it keeps:
//
//	ips/<ip>          one file per reserved address, holding the owner id
//	last_reserved_ip  the address handed out last
//	lock              the file flock(2)ed by Lock
//
// It is safe for use by many goroutines and many processes at once.
type DiskStore struct {
	Dir string

	mu   sync.Mutex
	lock *lockfile.Lock
}

// NewDiskStore returns a DiskStore rooted at dir, creating dir/ips if needed.
func NewDiskStore(dir string) (*DiskStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "ips"), 0o755); err != nil {
		return nil, fmt.Errorf("ipam store %s: %w", dir, err)
	}
	return &DiskStore{Dir: dir}, nil
}

// Dir6 is the directory of the IPv6 store of the network whose state
// directory is netDir: netDir/v6, with its own ips/, last_reserved_ip and
// lock, so the two families' "handed out last" hints and locks never mix
// and the IPv4 store's layout stays as it always was. A dry run that must
// not create directories uses &DiskStore{Dir: Dir6(netDir)}.
func Dir6(netDir string) string { return filepath.Join(netDir, "v6") }

// NewDiskStore6 is the IPv6 store of the network whose state directory
// is netDir: NewDiskStore(Dir6(netDir)). Equivalent to:
// `mkdir -p NETDIR/v6/ips`.
func NewDiskStore6(netDir string) (*DiskStore, error) { return NewDiskStore(Dir6(netDir)) }

// Lock takes an exclusive flock(2) on Dir/lock, waiting for it.
func (s *DiskStore) Lock() error {
	s.mu.Lock()
	l, err := lockfile.Acquire(filepath.Join(s.Dir, "lock"))
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("ipam: %w", err)
	}
	s.lock = l
	return nil
}

// Unlock releases the lock taken by Lock.
func (s *DiskStore) Unlock() error {
	err := s.lock.Unlock()
	s.lock = nil
	s.mu.Unlock()
	return err
}

func (s *DiskStore) ipPath(ip netip.Addr) string {
	return filepath.Join(s.Dir, "ips", ip.String())
}

// Reserve creates ips/<ip> holding id, in one step: id is written to an
// unnamed file that link(2) then names ips/<ip>, so the file never exists
// without its owner and a Reserve killed at any point leaves either
// nothing or the whole reservation. It returns false, nil when ips/<ip>
// exists. Equivalent to: `ln TMPFILE-HOLDING-ID ips/IP`.
//
// On a file system without unnamed files (O_TMPFILE) it creates ips/<ip>
// O_EXCL and then writes id: a writer killed in between leaves an empty
// file, which Damaged reports and the Allocator takes over.
func (s *DiskStore) Reserve(id string, ip netip.Addr) (bool, error) {
	path := s.ipPath(ip)
	u, err := atomicfile.CreateUnnamed(unix.AT_FDCWD, filepath.Dir(path), 0o644)
	if errors.Is(err, errors.ErrUnsupported) {
		return s.reserveInPlace(id, ip)
	}
	if err != nil {
		return false, fmt.Errorf("reserving %s: %w", ip, err)
	}
	defer u.Close()
	if _, err := u.Write([]byte(id)); err != nil {
		return false, fmt.Errorf("reserving %s: %w", ip, err)
	}
	if testHookReserve != nil {
		testHookReserve(ip)
	}
	ok, err := u.Link(unix.AT_FDCWD, path)
	if err != nil {
		return false, fmt.Errorf("reserving %s: %w", ip, err)
	}
	return ok, nil
}

// reserveInPlace is Reserve in two steps: create ips/<ip> O_EXCL, write id.
func (s *DiskStore) reserveInPlace(id string, ip netip.Addr) (bool, error) {
	f, err := os.OpenFile(s.ipPath(ip), os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reserving %s: %w", ip, err)
	}
	_, werr := f.WriteString(id)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return false, fmt.Errorf("reserving %s: %w", ip, errors.Join(werr, cerr))
	}
	return true, nil
}

// Release removes ips/<ip>; a missing file is not an error.
func (s *DiskStore) Release(ip netip.Addr) error {
	if err := os.Remove(s.ipPath(ip)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("releasing %s: %w", ip, err)
	}
	return nil
}

// Owner reads the owner id of ip. A reservation that cannot be read, or
// holds no valid id (empty, garbage, a directory), is reserved with owner "".
func (s *DiskStore) Owner(ip netip.Addr) (string, bool, error) {
	b, err := os.ReadFile(s.ipPath(ip))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", true, nil
	}
	id := strings.TrimSpace(string(b))
	if !validID(id) {
		id = ""
	}
	return id, true, nil
}

// Reserved lists the addresses that have a file under ips/. Files whose name
// is not an address are ignored.
func (s *DiskStore) Reserved() ([]netip.Addr, error) {
	ents, err := os.ReadDir(filepath.Join(s.Dir, "ips"))
	if err != nil {
		return nil, fmt.Errorf("listing reservations: %w", err)
	}
	ips := make([]netip.Addr, 0, len(ents))
	for _, e := range ents {
		if ip, err := netip.ParseAddr(e.Name()); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips, nil
}

// LastReserved reads last_reserved_ip; a missing, empty or damaged file
// yields the zero Addr, so allocation starts from the beginning of the range.
func (s *DiskStore) LastReserved() netip.Addr {
	b, err := os.ReadFile(filepath.Join(s.Dir, "last_reserved_ip"))
	if err != nil {
		return netip.Addr{}
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(string(b)))
	if err != nil {
		return netip.Addr{}
	}
	return ip
}

// SetLastReserved writes last_reserved_ip. It is a hint only, so it is
// written in place without fsync; a torn write reads back as "no hint".
func (s *DiskStore) SetLastReserved(ip netip.Addr) error {
	if err := os.WriteFile(filepath.Join(s.Dir, "last_reserved_ip"), []byte(ip.String()), 0o644); err != nil {
		return fmt.Errorf("recording last reserved address: %w", err)
	}
	return nil
}

// Damaged reports whether ips/<ip> exists and holds no valid owner id:
// empty, garbage, unreadable or not a regular file.
func (s *DiskStore) Damaged(ip netip.Addr) bool {
	owner, ok, err := s.Owner(ip)
	return err == nil && ok && owner == ""
}

// validID reports whether id looks like an id a caller wrote: non-empty,
// printable, no path separators.
func validID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r == '/' || r > '~' {
			return false
		}
	}
	return true
}
