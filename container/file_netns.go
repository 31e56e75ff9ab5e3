package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
// file is seeded with the host's file of the same name and appears
// atomically (written under a temporary name, then linked into place), so no
// process ever sees it empty.
func (f *netnsFile) Update(fn func(old []byte) ([]byte, error)) error {
	dir, err := f.openDir(true)
	if err != nil {
		return err
	}
	defer dir.Close()
	dirFD := int(dir.Fd())
	fd, err := openBeneath(dirFD, f.base, unix.O_RDWR, 0)
	if errors.Is(err, unix.ENOENT) {
		var created bool
		if created, err = f.createSeeded(dirFD); err != nil {
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

// Remove deletes the file, then NetnsEtcDir/NAME if it is empty.
// Equivalent to: `rm -f /etc/netns/NAME/hosts; rmdir /etc/netns/NAME`.
// A missing file or directory is success.
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
	top, err := os.Open(f.dir)
	if err != nil {
		return nil // the directory above vanished; nothing left to remove
	}
	defer top.Close()
	err = unix.Unlinkat(int(top.Fd()), f.name, unix.AT_REMOVEDIR)
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "rmdir", Path: filepath.Join(f.dir, f.name), Err: err}
	}
	// And NetnsEtcDir itself when that leaves it empty: `ip netns` does not
	// need it, and plumb may be the one that made it.
	_ = os.Remove(f.dir)
	return nil
}

// openDir opens NetnsEtcDir/NAME as an O_PATH directory, creating both
// levels when create is set. Equivalent to: `mkdir -p /etc/netns/NAME`.
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
	fd, err := openBeneath(topFD, f.name, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dirPath, Err: err}
	}
	return os.NewFile(uintptr(fd), dirPath), nil
}

// createSeeded makes the file with the host's content, atomically: it writes
// a temporary file in the same directory and hard-links it into place. It
// reports false when another process linked its own first.
func (f *netnsFile) createSeeded(dirFD int) (bool, error) {
	seed, err := readHostSeed(filepath.Join(hostEtcDir, f.base))
	if err != nil {
		return false, err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + f.base + ".plumb-" + hex.EncodeToString(rnd[:])
	fd, err := openBeneath(dirFD, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		return false, &os.PathError{Op: "create", Path: filepath.Join(f.dir, f.name, tmp), Err: err}
	}
	t := os.NewFile(uintptr(fd), filepath.Join(f.dir, f.name, tmp))
	defer func() {
		t.Close()
		_ = unix.Unlinkat(dirFD, tmp, 0)
	}()
	if err := t.Chmod(0o644); err != nil {
		return false, err
	}
	if _, err := t.Write(seed); err != nil {
		return false, fmt.Errorf("writing %s: %w", t.Name(), err)
	}
	// No fsync, as for the file's later updates (file.go): the seed of a
	// namespace's runtime file, like `ip netns`'s own files.
	err = unix.Linkat(dirFD, tmp, dirFD, f.base, 0)
	if errors.Is(err, unix.EEXIST) {
		return false, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "link", Path: f.Path(), Err: err}
	}
	return true, nil
}

// readHostSeed reads the host's file (nil when it does not exist).
func readHostSeed(path string) ([]byte, error) {
	h, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s to seed a netns copy: %w", path, err)
	}
	defer h.Close()
	if err := checkRegular(h); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(h, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s to seed a netns copy: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
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
