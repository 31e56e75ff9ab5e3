package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Unnamed is a file with no name yet: open(2) with O_TMPFILE. Until Link
// gives it a name no other process can see it, and if its writer dies
// first (killed at any point) the kernel frees it with the writer's last
// descriptor: it leaves nothing behind, not even a temporary file.
type Unnamed struct {
	f *os.File
}

// CreateUnnamed makes an unnamed file in the directory dir, taken relative
// to dirFD (unix.AT_FDCWD for the working directory; "." for dirFD
// itself), with mode perm less the umask as open(2) does (File().Chmod
// sets it exactly). When the file system cannot make unnamed files (NFS,
// vfat, overlayfs before Linux 6.6) it returns an error matching
// errors.ErrUnsupported and makes nothing. Equivalent to:
// `open(DIR, O_TMPFILE|O_RDWR, PERM)`.
func CreateUnnamed(dirFD int, dir string, perm os.FileMode) (*Unnamed, error) {
	for {
		fd, err := unix.Openat(dirFD, dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm.Perm()))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR):
			// EISDIR: a kernel older than 3.11 took O_TMPFILE for O_DIRECTORY.
			return nil, fmt.Errorf("creating an unnamed file in %s: %w (%w)", dir, errors.ErrUnsupported, err)
		case err != nil:
			return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
		}
		return &Unnamed{f: os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)"))}, nil
	}
}

// File is the open file, to write before Link.
func (u *Unnamed) File() *os.File { return u.f }

// Write writes p to the file.
func (u *Unnamed) Write(p []byte) (int, error) { return u.f.Write(p) }

// Link gives the file the name name in the directory dirFD, in one step:
// it appears with all that was written to it. It reports false, nil when
// name already exists (nothing is replaced: the link is the arbiter, as
// O_EXCL is for open). The file stays open; Close it after. Equivalent to:
// `linkat(FD, "", DIRFD, NAME, AT_EMPTY_PATH)`.
func (u *Unnamed) Link(dirFD int, name string) (bool, error) {
	fd := int(u.f.Fd())
	// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (plumb runs as root); through
	// /proc/self/fd it works for anyone and costs one path lookup more.
	err := unix.Linkat(fd, "", dirFD, name, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dirFD, name, unix.AT_SYMLINK_FOLLOW)
	}
	switch {
	case errors.Is(err, unix.EEXIST):
		return false, nil
	case err != nil:
		return false, &os.PathError{Op: "link", Path: name, Err: err}
	}
	return true, nil
}

// Close closes the file; when Link has not named it, it is gone.
func (u *Unnamed) Close() error { return u.f.Close() }

// CreateNew creates the file path (relative to dirFD, or unix.AT_FDCWD)
// holding data, with mode perm less the umask, the way open(2)
// O_CREAT|O_EXCL does but in
// one step: no process ever sees it empty or partly written, and a writer
// killed at any point leaves either nothing or the whole file. It reports
// false, nil when path already exists. There is no fsync. On a file system
// without unnamed files it returns an error matching errors.ErrUnsupported
// (see CreateUnnamed) and the caller chooses its own fallback.
func CreateNew(dirFD int, path string, data []byte, perm os.FileMode) (bool, error) {
	u, err := CreateUnnamed(dirFD, filepath.Dir(path), perm)
	if err != nil {
		return false, err
	}
	defer u.Close()
	if _, err := u.Write(data); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return u.Link(dirFD, path)
}
