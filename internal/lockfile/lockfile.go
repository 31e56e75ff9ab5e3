// Package lockfile is an exclusive flock(2) on a file, the one primitive
// plumb uses to order concurrent plumb processes.
package lockfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Acquire opens (creating if needed, mode 0644) path and takes an exclusive
// flock on it, waiting as long as another process holds it. Equivalent to:
// `flock PATH`.
func Acquire(path string) (*Lock, error) { return AcquireMode(path, 0o644) }

// AcquireMode is Acquire creating a missing file with mode perm. flock(2)
// needs only an open descriptor, read-only will do: a lock that every user
// can read is a lock that every user can hold, and so block plumb with.
// Locks under a world-readable directory such as /run/plumb are created
// 0600 for that reason. The directory must exist.
func AcquireMode(path string, perm os.FileMode) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock. It is safe to call on a nil Lock and twice.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor drops the flock
	l.f = nil
	return err
}
