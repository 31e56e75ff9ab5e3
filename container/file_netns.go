package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NetnsEtcDir holds the per-netns /etc files of named namespaces:
// `ip netns exec NAME` bind-mounts NetnsEtcDir/NAME/hosts over /etc/hosts
// (and likewise resolv.conf) for the command it runs. Tests point it at a
// temporary directory; it is read when a target is resolved.
var NetnsEtcDir = "/etc/netns"

// netnsFile is NetnsEtcDir/NAME/BASE. Below NetnsEtcDir every open uses
// openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so a symlink planted as the
// NAME directory or as the file is refused rather than followed.
type netnsFile struct {
	dir     string // NetnsEtcDir when resolved
	name    string // netns NAME, already validated
	base    string // "hosts" or "resolv.conf"
	created atomic.Bool
}

func (f *netnsFile) Path() string { return filepath.Join(f.dir, f.name, f.base) }

// Update creates NetnsEtcDir/NAME (0755) and the file when missing. A new
// file is seeded with the host's file of the same name and appears whole
// (see createSeeded), so no process ever sees it empty, and a writer killed
// at any point leaves no other file in NAME/. It first removes what an
// older plumb killed mid-write left there (see NetnsLeftovers).
func (f *netnsFile) Update(fn func(old []byte) ([]byte, error)) error {
	dir, err := f.openDir(true)
	if err != nil {
		return err
	}
	defer dir.Close()
	// Best effort: a leftover that cannot go must not stop an attach.
	_ = sweepLeftovers(dir)
	dirFD := int(dir.Fd())
	fd, err := openBeneath(dirFD, f.base, unix.O_RDWR, 0)
	if errors.Is(err, unix.ENOENT) {
		var created bool
		if created, err = f.createSeeded(dir); err != nil {
			return err
		}
		if created {
			f.created.Store(true)
		}
		fd, err = openBeneath(dirFD, f.base, unix.O_RDWR, 0)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: f.Path(), Err: err}
	}
	file := os.NewFile(uintptr(fd), f.Path())
	defer file.Close()
	return rewrite(file, fn)
}

// Created reports whether an Update through this value created the file.
func (f *netnsFile) Created() bool { return f.created.Load() }

func (f *netnsFile) Read() ([]byte, error) { return readRegular(f.Path()) }

// Remove deletes the file and the leftovers of older plumbs
// (NetnsLeftovers), then NetnsEtcDir/NAME if it is empty. Equivalent to:
// `rm -f /etc/netns/NAME/hosts /etc/netns/NAME/.*.plumb-*; rmdir
// /etc/netns/NAME`. A missing file or directory is success.
func (f *netnsFile) Remove() error {
	dir, err := f.openDir(false)
	if isGone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := unix.Unlinkat(int(dir.Fd()), f.base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: f.Path(), Err: err}
	}
	if err := sweepLeftovers(dir); err != nil {
		return err
	}
	return f.removeEmptyDirs()
}

// removeEmptyDirs removes NetnsEtcDir/NAME, the staging directory and
// NetnsEtcDir, each only if it is empty. Equivalent to:
// `rmdir /etc/netns/NAME /etc/netns/.plumb-tmp /etc/netns`.
func (f *netnsFile) removeEmptyDirs() error {
	top, err := os.Open(f.dir)
	if err != nil {
		return nil // the directory above vanished; nothing left to remove
	}
	defer top.Close()
	err = unix.Unlinkat(int(top.Fd()), f.name, unix.AT_REMOVEDIR)
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "rmdir", Path: filepath.Join(f.dir, f.name), Err: err}
	}
	removeStaging(top)
	// And NetnsEtcDir itself when that leaves it empty: `ip netns` does not
	// need it, and plumb may be the one that made it.
	_ = os.Remove(f.dir)
	return nil
}

// openDir opens NetnsEtcDir/NAME (read-only, so that it can be listed),
// creating both levels when create is set. Equivalent to:
// `mkdir -p /etc/netns/NAME`.
func (f *netnsFile) openDir(create bool) (*os.File, error) {
	if create {
		if err := os.MkdirAll(f.dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", f.dir, err)
		}
	}
	topFD, err := unix.Open(f.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: f.dir, Err: err}
	}
	defer unix.Close(topFD)
	dirPath := filepath.Join(f.dir, f.name)
	if create {
		if err := unix.Mkdirat(topFD, f.name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, &os.PathError{Op: "mkdir", Path: dirPath, Err: err}
		}
	}
	fd, err := openBeneath(topFD, f.name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dirPath, Err: err}
	}
	return os.NewFile(uintptr(fd), dirPath), nil
}

// openBeneath is openat2(dirFD, rel, flags, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS):
// rel must stay below dirFD and no component may be a symlink.
func openBeneath(dirFD int, rel string, flags int, mode uint32) (int, error) {
	how := &unix.OpenHow{
		Flags:   openFlags(flags),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirFD, rel, how)
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 16 {
			continue
		}
		if err != nil {
			return -1, err
		}
		return fd, nil
	}
}
