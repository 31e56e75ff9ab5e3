package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Running reports whether a live process holds the daemon's lock on
// runDir (LockPath), and that process's pid. The daemon takes the lock
// before anything else and holds it until it exits, and the kernel drops
// it however the process dies, so the answer is never stale, unlike the
// pid file, which a SIGKILLed daemon leaves naming a pid the kernel may
// hand to any process. A daemon still starting (rebuilding its listeners
// before its socket answers) is running.
//
// It only reads (/proc/locks, and /proc/PID/fd to check the holder has the
// very file open), and takes no lock: a probe with flock(2) would make a
// daemon starting at that moment think another one runs, and exit. The
// pid is the process that took the lock; the daemon never passes its
// descriptor on. Equivalent to:
//
//	grep " FLOCK .* WRITE .*:$(stat -c %i RUNDIR/daemon.lock) " /proc/locks
//	ls -l /proc/PID/fd | grep RUNDIR/daemon.lock
func Running(runDir string) (pid int, ok bool) {
	lock, err := os.Stat(LockPath(runDir))
	if err != nil {
		return 0, false
	}
	st, isStat := lock.Sys().(*syscall.Stat_t)
	if !isStat {
		return 0, false
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, false
	}
	file := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	ino := ":" + strconv.FormatUint(st.Ino, 10)
	for _, line := range strings.Split(string(locks), "\n") {
		pid, held, ok := parseFlock(line)
		if !ok || !strings.HasSuffix(held, ino) {
			continue
		}
		// /proc/locks names the device as the superblock has it, which
		// stat(2) does not always (btrfs): the holder's open files say.
		if has, known := hasOpen(pid, lock); known {
			if has {
				return pid, true
			}
			continue
		}
		if held == file && alive(pid) { // /proc/PID/fd not readable
			return pid, true
		}
	}
	return 0, false
}

// parseFlock reads one line of /proc/locks: the pid and MAJ:MIN:INODE of
// an exclusive flock(2) that is held (not waited for), e.g.
//
//	1: FLOCK  ADVISORY  WRITE 4242 00:1b:5678 0 EOF
func parseFlock(line string) (pid int, file string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || f[1] != "FLOCK" || f[3] != "WRITE" { // a waiter has "->" in f[1]
		return 0, "", false
	}
	pid, err := strconv.Atoi(f[4])
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	return pid, f[5], true
}

// hasOpen reports whether process pid has the file fi open; known is false
// when its descriptors cannot be read (another user's process).
func hasOpen(pid int, fi os.FileInfo) (has, known bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrPermission) {
		return false, false
	}
	if err != nil {
		return false, true // gone
	}
	for _, fd := range fds {
		p := filepath.Join(dir, fd.Name())
		// Only a link to a file of the lock's name is worth a stat: the
		// daemon holds thousands of sockets.
		if target, err := os.Readlink(p); err != nil || filepath.Base(target) != filepath.Base(LockPath("")) {
			continue
		}
		if got, err := os.Stat(p); err == nil && os.SameFile(got, fi) {
			return true, true
		}
	}
	return false, true
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
