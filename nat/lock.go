package nat

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// fileLock takes an exclusive flock(2) on path, creating the file (and its
// directory) when missing, and returns the function that releases it.
// Equivalent to: `flock PATH ...`.
//
// The lock is plumb's own: the xtables lock (/run/xtables.lock) cannot be
// used, because iptables-restore --wait takes it in a child process and
// would wait forever on the lock its parent holds.
func fileLock(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating directory of lock file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the lock
}
