package container

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// File is one of the target's name-service files (its /etc/hosts or
// /etc/resolv.conf). Implementations guarantee that no write ever lands
// outside the target's own root, and never in the host's own /etc/hosts or
// /etc/resolv.conf.
type File interface {
	// Path names the file, for messages.
	Path() string

	// Update reads the file, calls fn with its content and writes fn's
	// result back in place (same inode, because Docker bind-mounts these
	// files and a rename would break the mount). It holds an exclusive flock
	// on the open file for the whole read-modify-write, so concurrent plumb
	// processes do not lose each other's lines. When fn returns the content
	// unchanged nothing is written. An error from fn aborts the update and
	// is returned wrapped.
	//
	// Docker files are never created. A process's file is created (0644)
	// when missing. A netns file is created with its directory
	// /etc/netns/NAME, seeded with the host's file of the same name: that is
	// what `ip netns exec` showed until the file existed, so creating it
	// must not drop, say, the localhost lines.
	Update(fn func(old []byte) ([]byte, error)) error

	// Created reports whether an Update through this value created the
	// file. A caller that wants to undo the creation on detach records it
	// (e.g. in the endpoint state) and later calls Remove.
	Created() bool

	// Read returns the file's content, changing nothing and creating
	// nothing: a missing file is an error matching fs.ErrNotExist.
	Read() ([]byte, error)

	// Remove deletes the file, and its /etc/netns/NAME directory when that
	// is left empty. It is only meaningful for netns targets, whose files
	// plumb owns; for every other kind it does nothing and returns nil,
	// because those files belong to Docker or to the process's image.
	// "Already gone" is success.
	Remove() error
}

const maxFileSize = 16 << 20

// lockTimeout bounds the wait for another holder of the flock: a file inside
// a hostile root could be locked forever by the target itself.
var lockTimeout = 10 * time.Second

// hostEtcDir is plumb's own /etc: its hosts and resolv.conf are never written
// through a File, and seed new netns files.
var hostEtcDir = "/etc"

// fileID is a file's identity, (st_dev, st_ino).
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return fileID{dev: st.Dev, ino: st.Ino}, nil
}

// checkRegular refuses anything but a regular file, so that a target cannot
// make plumb read a FIFO forever or write to a device.
func checkRegular(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is not a regular file", f.Name())
	}
	return nil
}

// checkNotHostFile refuses the host's own hosts and resolv.conf, whatever
// path led to them (a bind mount of the host's /etc, a pid that reused a
// number, a symlink in a netns directory).
func checkNotHostFile(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	id := fileID{dev: st.Dev, ino: st.Ino}
	for _, name := range []string{"hosts", "resolv.conf"} {
		p := filepath.Join(hostEtcDir, name)
		if hid, err := statID(p); err == nil && hid == id {
			return fmt.Errorf("refusing to write %s: it is the host's own %s", f.Name(), p)
		}
	}
	return nil
}

// rewrite is the shared body of every Update: lock, read, fn, write back in
// place. The new content is written from offset 0 before the file is
// truncated to its length, so a reader never sees an empty file in between
// (Docker's own writers truncate first). f must be open read-write and is not
// closed.
func rewrite(f *os.File, fn func(old []byte) ([]byte, error)) error {
	if err := checkRegular(f); err != nil {
		return err
	}
	if err := checkNotHostFile(f); err != nil {
		return err
	}
	if err := lock(f); err != nil {
		return err
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)

	old, err := io.ReadAll(io.NewSectionReader(f, 0, maxFileSize+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	if len(old) > maxFileSize {
		return fmt.Errorf("reading %s: larger than %d bytes", f.Name(), maxFileSize)
	}
	data, err := fn(old)
	if err != nil {
		return fmt.Errorf("updating %s: %w", f.Name(), err)
	}
	if bytes.Equal(old, data) {
		return nil
	}
	if len(data) > maxFileSize {
		return fmt.Errorf("writing %s: new content larger than %d bytes", f.Name(), maxFileSize)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		return fmt.Errorf("truncating %s: %w", f.Name(), err)
	}
	// No fsync: these are runtime files that the runtime (or plumb's next
	// attach) rewrites anyway, as Docker's own writes of them are not
	// synced either; three fsyncs were a tenth of an attach.
	return nil
}

// lock takes an exclusive flock on f, polling so that it can give up after
// lockTimeout. Equivalent to: `flock -w 10 FILE`.
func lock(f *os.File) error {
	deadline := time.Now().Add(lockTimeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		case time.Now().After(deadline):
			return fmt.Errorf("locking %s: still locked by another process after %s", f.Name(), lockTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readRegular reads the regular file at path, at most maxFileSize bytes.
func readRegular(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	return readOpen(f)
}

// readOpen reads f, a regular file, at most maxFileSize bytes, and closes it.
func readOpen(f *os.File) ([]byte, error) {
	defer f.Close()
	if err := checkRegular(f); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.Name(), maxFileSize)
	}
	return b, nil
}
