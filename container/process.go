package container

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// resolvePID resolves a process. Its files are its own /etc/hosts and
// /etc/resolv.conf, reached through /proc/PID/root, unless the process sees
// plumb's own file system (same mount namespace, or the same root): then they
// are the host's files and the target gets none.
func resolvePID(pid int) (*Target, error) {
	nsPath := procPath(pid, "ns/net")
	key, err := NetNSKey(nsPath)
	if isGone(err) {
		return nil, fmt.Errorf("process %d %w", pid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving pid %d: %w", pid, err)
	}
	t := &Target{Kind: KindPID, NetNSPath: nsPath, PID: pid, Key: key}
	rootID, own, err := processRoot(pid)
	if isGone(err) {
		return nil, fmt.Errorf("process %d %w", pid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving pid %d: %w", pid, err)
	}
	if own {
		root := procPath(pid, "root")
		t.HostsFile = &rootFile{root: root, rel: "etc/hosts", rootID: rootID}
		t.ResolvFile = &rootFile{root: root, rel: "etc/resolv.conf", rootID: rootID}
		t.Hostname = readHostname(root, rootID)
	}
	return t, nil
}

// processRoot returns the identity of pid's root directory, and whether that
// root is the process's own: false when the process shares plumb's mount
// namespace (its /etc is plumb's /etc, even if it is chrooted: a chroot is no
// boundary for plumb's rule of never editing the host's files) or its root is
// plumb's root (a new mount namespace that did not pivot_root).
func processRoot(pid int) (root fileID, own bool, err error) {
	selfMnt, err := statID("/proc/self/ns/mnt")
	if err != nil {
		return fileID{}, false, err
	}
	selfRoot, err := statID("/proc/self/root")
	if err != nil {
		return fileID{}, false, err
	}
	mnt, err := statID(procPath(pid, "ns/mnt"))
	if err != nil {
		return fileID{}, false, err
	}
	root, err = statID(procPath(pid, "root"))
	if err != nil {
		return fileID{}, false, err
	}
	return root, mnt != selfMnt && root != selfRoot, nil
}

// readHostname returns the first line of etc/hostname inside root, or "" when
// it is missing, not a regular file, or not a plausible host name. It reads
// through the same RESOLVE_IN_ROOT walk as the writes.
func readHostname(root string, rootID fileID) string {
	rootFD, err := openRoot(root, rootID)
	if err != nil {
		return ""
	}
	defer rootFD.Close()
	fd, err := openInRoot(int(rootFD.Fd()), "etc/hostname", unix.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(fd), "hostname")
	defer f.Close()
	if checkRegular(f) != nil {
		return ""
	}
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, 0)
	line, _, _ := bytes.Cut(buf[:n], []byte("\n"))
	name := strings.TrimSpace(string(line))
	if !isHostname(name) {
		return ""
	}
	return name
}

// isHostname accepts letters, digits, '-', '_' and '.', at most 253 bytes.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
