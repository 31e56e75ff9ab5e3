package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Meta describes the machine and the tools of a run.
type Meta struct {
	Date, Kernel, CPU, Go, Plumb, PlumbPath, CNI, IPTables string
	LoadStart, LoadEnd                                     string // 1-minute load average: other work on the machine
	CPUs                                                   int
}

// collectMeta gathers the report's header.
func collectMeta(cfg Config) Meta {
	m := Meta{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		CPUs:      runtime.NumCPU(),
		CPU:       cpuModel(),
		Go:        runtime.Version(),
		PlumbPath: cfg.Plumb,
		LoadStart: loadAvg(),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.Plumb = firstLine(sh("git", "-C", filepath.Dir(filepath.Dir(cfg.Plumb)), "describe", "--always", "--dirty"))
	m.IPTables = firstLine(sh("iptables", "--version"))
	deb := firstLine(sh("dpkg-query", "-W", "-f", "${Version}", "containernetworking-plugins"))
	about := firstLine(sh(filepath.Join(cfg.CNIDir, "bridge"))) // no CNI_COMMAND: prints its about line
	m.CNI = "containernetworking-plugins " + deb + " (`" + about + "`)"
	return m
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// firstLine is the first line of a command's output, or "unknown" when
// the command failed or printed nothing.
func firstLine(out string, err error) string {
	if ls := lines(out); err == nil && len(ls) > 0 {
		return ls[0]
	}
	return "unknown"
}

// loadAvg is the 1-minute load average from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
