package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/plumbnet/plumb/internal/netnscookie"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// procPath returns /proc/PID/rel.
func procPath(pid int, rel string) string {
	return filepath.Join("/proc", strconv.Itoa(pid), rel)
}

// ErrNotNetNS: the file exists but is not a network namespace (a regular
// file, another kind of namespace).
var ErrNotNetNS = errors.New("not a network namespace")

// notNetNS is a file that is not a network namespace: its message says what
// it is instead, and it matches ErrNotNetNS.
type notNetNS struct{ msg string }

func (e *notNetNS) Error() string        { return e.msg }
func (e *notNetNS) Is(target error) bool { return target == ErrNotNetNS }

// NetNSKey checks that path is a network namespace file and returns its
// identity, "ns-<cookie>": the namespace's cookie (package netnscookie),
// which the kernel never gives another namespace, where the inode of a
// deleted namespace's file is soon given to a new one. Two paths naming
// one netns (a pid's /proc/N/ns/net and an `ip netns` bind mount) give the
// same key, so NetNSKey(p) == NetNSKey("/proc/self/ns/net") means p is the
// caller's own namespace. A missing path gives an error matching
// fs.ErrNotExist (an *os.PathError), a file that is not a network
// namespace one matching ErrNotNetNS. Equivalent to: `stat -f -c %T PATH`
// is nsfs, then ioctl(NS_GET_NSTYPE) is CLONE_NEWNET, then
// getsockopt(SO_NETNS_COOKIE) on a socket made inside.
func NetNSKey(path string) (string, error) {
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return "", &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if sfs.Type != unix.NSFS_MAGIC {
		return "", &notNetNS{fmt.Sprintf("%s is not a namespace file", path)}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	typ, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		return "", fmt.Errorf("querying namespace type of %s: %w", path, err)
	}
	if typ != unix.CLONE_NEWNET {
		return "", &notNetNS{fmt.Sprintf("%s is a namespace but not a network namespace", path)}
	}
	cookie, err := netnscookie.Of(netns.NsHandle(fd))
	if err != nil {
		return "", fmt.Errorf("identifying network namespace %s: %w", path, err)
	}
	return "ns-" + strconv.FormatUint(cookie, 10), nil
}

// isGone reports whether err means the process or file no longer exists.
func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH)
}

// resolveNetNS resolves a named netns. Its files are /etc/netns/NAME/hosts
// and /etc/netns/NAME/resolv.conf, which `ip netns exec NAME` bind-mounts
// over /etc/hosts and /etc/resolv.conf.
func resolveNetNS(name string) (*Target, error) {
	path := filepath.Join(netnsRunDir, name)
	key, err := NetNSKey(path)
	if isGone(err) {
		return nil, fmt.Errorf("netns %q %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving netns %q: %w", name, err)
	}
	return &Target{
		Kind:          KindNetNS,
		NetNSPath:     path,
		ContainerName: name,
		Hostname:      name,
		HostsFile:     &netnsFile{dir: NetnsEtcDir, name: name, base: "hosts"},
		ResolvFile:    &netnsFile{dir: NetnsEtcDir, name: name, base: "resolv.conf"},
		Key:           key,
	}, nil
}

// resolvePath resolves a netns file that is neither a pid's nor a named
// netns. Nothing says which root file system goes with it, so it has no files.
func resolvePath(path string) (*Target, error) {
	key, err := NetNSKey(path)
	if isGone(err) {
		return nil, fmt.Errorf("netns path %q %w", path, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving netns path %q: %w", path, err)
	}
	return &Target{Kind: KindPath, NetNSPath: path, Key: key}, nil
}
