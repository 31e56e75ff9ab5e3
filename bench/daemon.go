package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// plumb's attach starts `plumb daemon --exit-when-idle` (the embedded DNS)
// when none answers on RUNDIR/plumb.sock. The bench gives plumb a private
// run dir, so that daemon is the bench's own: started inside the host netns,
// never reached by another plumb on the machine, and gone at the end.

// runDir is the run dir the bench gives plumb.
func (p *Plan) runDir() string { return filepath.Join(p.TmpDir, "run") }

// stopDaemon waits for the daemon of runDir to exit by itself (it does once
// no network is left, checking every 2 s), then ends it by its pid if it
// has not. It only signals a process whose command line is plumb's daemon
// with this run dir. It returns a line for the report, or "".
func stopDaemon(runDir, plumb string, wait time.Duration) string {
	pidFile := filepath.Join(runDir, "plumb.pid")
	deadline := time.Now().Add(wait)
	for {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return "" // no daemon, or it exited and removed its pid file
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !isDaemon(pid, plumb, runDir) {
			return ""
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			return "the plumb daemon (pid " + strconv.Itoa(pid) + ") was still running after its networks were removed: the bench ended it"
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// isDaemon reports whether pid runs `PLUMB daemon ... --run-dir RUNDIR`.
func isDaemon(pid int, plumb, runDir string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
	return len(args) > 1 && args[0] == plumb && args[1] == "daemon" && strings.Contains(string(b), runDir)
}
