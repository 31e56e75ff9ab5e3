package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// rootFile is a file inside a process's own root file system, reached as
// /proc/PID/root/REL. Every open walks REL with openat2 RESOLVE_IN_ROOT from
// a descriptor of that root, so symlinks inside it (absolute, "../../..",
// /etc itself a symlink to "/") resolve as they would for the process and
// never leave its root, and RESOLVE_NO_MAGICLINKS refuses /proc/*/root style
// jumps. The root is checked against the identity recorded at resolve time,
// so a pid reused by another process is refused.
type rootFile struct {
	root    string // /proc/PID/root
	rel     string // etc/hosts
	rootID  fileID // identity of root when resolved; zero: not checked
	created atomic.Bool
}

func (f *rootFile) Path() string { return filepath.Join(f.root, f.rel) }

func (f *rootFile) Update(fn func(old []byte) ([]byte, error)) error {
	rootFD, err := openRoot(f.root, f.rootID)
	if err != nil {
		return err
	}
	defer rootFD.Close()
	fd, created, err := openOrCreateInRoot(int(rootFD.Fd()), f.rel)
	if err != nil {
		return fmt.Errorf("opening %s: %w", f.Path(), err)
	}
	file := os.NewFile(uintptr(fd), f.Path())
	defer file.Close()
	if created {
		f.created.Store(true)
		// Undo the umask; the file is the target's, readable by all.
		if err := file.Chmod(0o644); err != nil {
			return err
		}
	}
	return rewrite(file, fn)
}

// Read reads the file through the same RESOLVE_IN_ROOT walk as Update.
func (f *rootFile) Read() ([]byte, error) {
	rootFD, err := openRoot(f.root, f.rootID)
	if err != nil {
		return nil, err
	}
	defer rootFD.Close()
	fd, err := openInRoot(int(rootFD.Fd()), f.rel, unix.O_RDONLY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: f.Path(), Err: err}
	}
	return readOpen(os.NewFile(uintptr(fd), f.Path()))
}

// Created reports whether an Update created the file in the process's root.
func (f *rootFile) Created() bool { return f.created.Load() }

// Remove does nothing: a file inside a process's root belongs to its image,
// even one plumb created.
func (f *rootFile) Remove() error { return nil }

// openRoot opens root as an O_PATH directory and, when want is not zero,
// checks that it is still the directory it was.
func openRoot(root string, want fileID) (*os.File, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	f := os.NewFile(uintptr(fd), root)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: root, Err: err}
	}
	if want != (fileID{}) && (fileID{dev: st.Dev, ino: st.Ino}) != want {
		f.Close()
		return nil, fmt.Errorf("%s is no longer the root it was when the target was resolved (did the process exit?)", root)
	}
	return f, nil
}

// openOrCreateInRoot opens rel read-write inside rootFD, creating it when
// missing. created is true when this call made the file.
func openOrCreateInRoot(rootFD int, rel string) (fd int, created bool, err error) {
	fd, err = openInRoot(rootFD, rel, unix.O_RDWR, 0)
	if !errors.Is(err, unix.ENOENT) {
		return fd, false, err
	}
	fd, err = openInRoot(rootFD, rel, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err == nil {
		return fd, true, nil
	}
	if !errors.Is(err, unix.EEXIST) {
		return -1, false, err
	}
	// Someone created it meanwhile, or rel is a dangling symlink (which
	// O_EXCL does not follow; this open then fails with ENOENT).
	fd, err = openInRoot(rootFD, rel, unix.O_RDWR, 0)
	return fd, false, err
}

// openInRoot is openat2(rootFD, rel, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS):
// rel is resolved as if rootFD were "/", whatever symlinks it meets.
// O_NONBLOCK keeps a FIFO planted in the target from blocking the open; the
// callers then refuse anything that is not a regular file.
func openInRoot(rootFD int, rel string, flags int, mode uint32) (int, error) {
	how := &unix.OpenHow{
		Flags:   openFlags(flags),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(rootFD, rel, how)
		// EAGAIN: a concurrent rename raced the walk; the kernel asks to retry.
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 16 {
			continue
		}
		if err != nil {
			return -1, err
		}
		return fd, nil
	}
}

// openFlags adds O_CLOEXEC and, unless flags has O_PATH (with which openat2
// accepts only O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC), O_NOCTTY|O_NONBLOCK.
func openFlags(flags int) uint64 {
	flags |= unix.O_CLOEXEC
	if flags&unix.O_PATH == 0 {
		flags |= unix.O_NOCTTY | unix.O_NONBLOCK
	}
	return uint64(flags)
}
