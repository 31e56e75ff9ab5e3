package nsview

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Process is one process whose network namespace is the one looked at.
type Process struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
}

// nsID identifies a namespace file: the device and inode of what
// /proc/PID/ns/net or a bind mount under /var/run/netns points to.
type nsID struct{ dev, ino uint64 }

func statNS(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// Inode is the inode number of the namespace at nsPath, the number lsns
// and `readlink /proc/PID/ns/net` show (net:[INODE]).
func Inode(nsPath string) (uint64, error) {
	id, err := statNS(nsPath)
	if err != nil {
		return 0, fmt.Errorf("reading network namespace %s: %w", nsPath, err)
	}
	return id.ino, nil
}

// Processes lists the processes (not threads) whose /proc/PID/ns/net is
// the namespace at nsPath, by pid. A process that exits while it is read
// is left out. Equivalent to: `lsns -t net` then `ps -p PIDS`, or
// `ip netns pids NAME`.
func Processes(nsPath string) ([]Process, error) {
	want, err := statNS(nsPath)
	if err != nil {
		return nil, fmt.Errorf("reading network namespace %s: %w", nsPath, err)
	}
	pids, err := allPIDs()
	if err != nil {
		return nil, err
	}
	var out []Process
	for _, pid := range pids {
		id, err := statNS("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil || id != want {
			continue
		}
		out = append(out, Process{PID: pid, Command: command(pid)})
	}
	return out, nil
}

// allPIDs lists the numeric entries of /proc, in order.
func allPIDs() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// command is the process's name as ps -o comm shows it; "" once gone.
func command(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// socketOwners maps socket inodes to the first process (lowest pid)
// holding them among procs, by reading /proc/PID/fd: what ss -p does.
func socketOwners(procs []Process) map[uint32]Process {
	owners := map[uint32]Process{}
	for _, p := range procs {
		dir := "/proc/" + strconv.Itoa(p.PID) + "/fd"
		d, err := os.Open(dir)
		if err != nil {
			continue
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, n := range names {
			link, err := os.Readlink(dir + "/" + n)
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(link[len("socket:["):], "]"), 10, 32)
			if err != nil {
				continue
			}
			if _, seen := owners[uint32(ino)]; !seen {
				owners[uint32(ino)] = p
			}
		}
	}
	return owners
}
