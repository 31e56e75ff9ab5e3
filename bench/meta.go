package main

import (
	"bufio"
	"fmt"
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
	Netavark, Docker, Iperf, Mem                           string
	Command                                                string // the command line of the run, as typed
	LoadStart, LoadEnd                                     string // 1-minute load average: other work on the machine
	CPUs                                                   int
}

// collectMeta gathers the report's header.
func collectMeta(plan *Plan) Meta {
	cfg := plan.Config
	m := Meta{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		CPUs:      runtime.NumCPU(),
		CPU:       cpuModel(),
		Go:        runtime.Version(),
		PlumbPath: cfg.Plumb,
		LoadStart: loadAvg(),
		Command:   commandLine(os.Args),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.Plumb = firstLine(sh("git", "-C", filepath.Dir(filepath.Dir(cfg.Plumb)), "describe", "--always", "--dirty"))
	m.IPTables = firstLine(sh("iptables", "--version"))
	deb := dpkgVersion("containernetworking-plugins")
	about := firstLine(sh(filepath.Join(cfg.CNIDir, "bridge"))) // no CNI_COMMAND: prints its about line
	m.CNI = "containernetworking-plugins " + deb + " (`" + about + "`)"
	m.Netavark = firstLine(sh(cfg.Netavark, "--version")) + " (Debian " + dpkgVersion("netavark") + ")"
	if plan.DockerSkip == "" {
		m.Docker = "Docker Engine " + firstLine(sh("docker", "version", "--format", "{{.Server.Version}}")) +
			", containerd " + firstLine(sh("docker", "version", "--format", "{{range .Server.Components}}{{if eq .Name \"containerd\"}}{{.Version}}{{end}}{{end}}"))
	}
	m.Iperf = firstLine(sh("iperf3", "--version"))
	if kb := memTotal(); kb > 0 {
		m.Mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	return m
}

// dpkgVersion is the installed Debian version of pkg, or "unknown".
func dpkgVersion(pkg string) string {
	return firstLine(sh("dpkg-query", "-W", "-f", "${Version}", pkg))
}

// memTotal is MemTotal from /proc/meminfo, in kB.
func memTotal() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			var v int64
			fmt.Sscan(f[1], &v)
			return v
		}
	}
	return 0
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

// commandLine is the run's command line as it was typed: BENCH_QUICK=1
// when set, `go run ./bench` for a binary that go run built (in a
// go-build temp dir), then the arguments.
func commandLine(args []string) string {
	var w []string
	if q := os.Getenv("BENCH_QUICK"); q != "" {
		w = append(w, "BENCH_QUICK="+q)
	}
	if strings.Contains(args[0], "/go-build") {
		w = append(w, "go", "run", "./bench")
	} else {
		w = append(w, args[0])
	}
	return strings.Join(append(w, args[1:]...), " ")
}
