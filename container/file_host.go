package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// hostFile is a Docker container's hosts or resolv.conf: a host-side file
// under /var/lib/docker/containers/<id>/ that Docker bind-mounts into the
// container. The directories above it belong to root; the file itself is
// opened with O_NOFOLLOW, so a symlink planted in its place is refused. It is
// never created: a missing file means Docker did not give the container one.
type hostFile struct {
	path string
}

func (f *hostFile) Path() string { return f.path }

func (f *hostFile) Update(fn func(old []byte) ([]byte, error)) error {
	if !filepath.IsAbs(f.path) {
		return fmt.Errorf("opening %q: docker reported a relative path", f.path)
	}
	fd, err := unix.Open(f.path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("opening %s: it is a symlink, refusing to follow it", f.path)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: f.path, Err: err}
	}
	file := os.NewFile(uintptr(fd), f.path)
	defer file.Close()
	return rewrite(file, fn)
}

// Created is always false: Docker's files are never created by plumb.
func (f *hostFile) Created() bool { return false }

func (f *hostFile) Read() ([]byte, error) { return readRegular(f.path) }

// Remove does nothing: the file belongs to Docker.
func (f *hostFile) Remove() error { return nil }
