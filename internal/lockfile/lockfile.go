// Package lockfile is an exclusive flock(2) on a file, the one primitive
// plumb uses to order concurrent plumb processes.
package lockfile

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Acquire opens (creating if needed, mode 0600) path and takes an
// exclusive flock on it, waiting as long as another process holds it.
// Equivalent to: `flock PATH`.
func Acquire(path string) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
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

// TryAcquire is Acquire without the wait: when another holder has the lock
// (another process, or another open of path in this one) it returns nil,
// nil at once. Equivalent to: `flock --nonblock PATH`.
func TryAcquire(path string) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// open opens path for locking, creating it if needed with mode 0600:
// flock(2) needs only an open descriptor, read-only will do, so a lock
// file every user can read is a lock every user can hold, and so block
// plumb with. The directory must exist.
func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	return f, nil
}

// Current reports whether the file l locks is still the one at its path:
// false once the file, or a directory above it, was removed or replaced
// (`rm -rf` of a run directory, made again), when l no longer keeps out
// whoever locks the path now. Equivalent to: comparing `stat -L -c %d:%i
// PATH` with the locked descriptor's.
func (l *Lock) Current() bool {
	var held, now unix.Stat_t
	if unix.Fstat(int(l.f.Fd()), &held) != nil || unix.Stat(l.f.Name(), &now) != nil {
		return false
	}
	return held.Dev == now.Dev && held.Ino == now.Ino
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
