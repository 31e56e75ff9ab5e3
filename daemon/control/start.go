package control

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultRunDir holds the daemon's control socket, pid file, lock and log
// for the default state directory.
const DefaultRunDir = "/run/plumb"

// DefaultStateDir is the state directory whose daemon uses DefaultRunDir.
const DefaultStateDir = "/var/lib/plumb"

// RunDir is runDir when given, else DefaultRunDir for the default state
// directory, else STATEDIR/run: two state directories never share a daemon.
func RunDir(stateDir, runDir string) string {
	if runDir != "" {
		return runDir
	}
	if stateDir == "" || filepath.Clean(stateDir) == DefaultStateDir {
		return DefaultRunDir
	}
	return filepath.Join(stateDir, "run")
}

// StartTimeout bounds how long Start waits for a new daemon to answer.
const StartTimeout = 5 * time.Second

// Starter starts `plumb daemon --exit-when-idle` for a state directory.
type Starter struct {
	Exe      string // the plumb binary; empty: this process's own
	StateDir string
	RunDir   string
}

// Start starts the daemon in its own session, logging to RUNDIR/daemon.log,
// and returns once its control socket answers. Two processes racing to
// start it are fine: the daemon takes an flock, and the one that loses
// exits at once; Start then waits for the winner's socket, as long as the
// winner holds the lock. Equivalent to:
//
//	setsid plumb daemon --state-dir STATEDIR --run-dir RUNDIR --exit-when-idle >>RUNDIR/daemon.log 2>&1 &
func (s Starter) Start() error {
	if err := os.MkdirAll(s.RunDir, 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	exe := s.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("finding the plumb binary to start the daemon: %w", err)
		}
	}
	logPath := filepath.Join(s.RunDir, "daemon.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "daemon", "--state-dir", s.StateDir, "--run-dir", s.RunDir, "--exit-when-idle")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Started by the CNI plugin, the daemon must not see CNI_COMMAND and
	// act as the plugin itself.
	cmd.Env = withoutCNIEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the plumb daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	sock := SocketPath(s.RunDir)
	var exitErr error
	gone := false
	for deadline := time.Now().Add(StartTimeout); time.Now().Before(deadline); {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return nil
		}
		if gone {
			// It lost the race for the lock to another daemon, which
			// answers once it has rebuilt what it serves: wait for it
			// while it holds the lock. (A dial does not wait for a socket
			// that is not there yet.)
			if _, ok := Running(s.RunDir); !ok {
				return fmt.Errorf("the plumb daemon exited at start (%v): see %s", exitErr, logPath)
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		select {
		case exitErr = <-exited:
			gone = true
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("the plumb daemon did not answer within %s: see %s", StartTimeout, logPath)
}

// withoutCNIEnv is env without the CNI_* variables.
func withoutCNIEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "CNI_") {
			out = append(out, kv)
		}
	}
	return out
}
