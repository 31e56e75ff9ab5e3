// Package netnscookie reads a network namespace's cookie: the number the
// kernel gives each network namespace when it is made and never gives
// another (SO_NETNS_COOKIE, Linux 5.14), unlike the inode of its nsfs
// file, which a namespace made after this one is gone may get again. An
// endpoint keyed by cookie is never mistaken for one in a new namespace.
package netnscookie

import (
	"fmt"

	"github.com/plumbnet/plumb/internal/nsdo"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Of returns the cookie of the network namespace ns: it enters ns on a
// locked thread only to make one socket there (a socket belongs to the
// namespace it was made in for its whole life), goes back, and reads the
// socket's SO_NETNS_COOKIE. A thread that cannot go back is not reused.
// Equivalent to: getsockopt(SO_NETNS_COOKIE) on a socket made in NS.
func Of(ns netns.NsHandle) (uint64, error) {
	if !ns.IsOpen() {
		return 0, fmt.Errorf("reading a namespace's cookie: the namespace is closed")
	}
	fd, err := socketIn(ns)
	if err != nil {
		return 0, fmt.Errorf("opening a socket in the namespace: %w", err)
	}
	defer unix.Close(fd)
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0, fmt.Errorf("reading the namespace's cookie: %w", err)
	}
	return c, nil
}

// OfPath is Of for the namespace file at path (/proc/PID/ns/net,
// /var/run/netns/NAME).
func OfPath(path string) (uint64, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return 0, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer ns.Close()
	return Of(ns)
}

// Self is the cookie of the calling thread's network namespace.
func Self() (uint64, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
}

// socketIn makes an AF_UNIX datagram socket inside ns.
func socketIn(ns netns.NsHandle) (int, error) {
	fd := -1
	err := nsdo.Do(ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil && fd >= 0 {
		unix.Close(fd)
		fd = -1
	}
	return fd, err
}
