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
	"time"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/lockfile"
)

// staleAfter is how old a damaged reservation file must be before it may be
// taken over: long enough that the process that created it has either
// finished writing it or died.
const staleAfter = 30 * time.Second

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

// Reserve creates ips/<ip> exclusively, holding id.
func (s *DiskStore) Reserve(id string, ip netip.Addr) (bool, error) {
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

// Owner reads the owner id of ip.
func (s *DiskStore) Owner(ip netip.Addr) (string, bool, error) {
	b, err := os.ReadFile(s.ipPath(ip))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading reservation of %s: %w", ip, err)
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

// Stale reports whether ips/<ip> holds no valid owner id and was last
// written more than staleAfter ago.
func (s *DiskStore) Stale(ip netip.Addr) bool {
	p := s.ipPath(ip)
	st, err := os.Stat(p)
	if err != nil || time.Since(st.ModTime()) < staleAfter {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && !validID(strings.TrimSpace(string(b)))
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
