package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
)

// leaveStale writes what a SIGKILLed daemon leaves in runDir: its socket,
// which nothing listens on, and its pid file, naming pid (which the kernel
// may by now have handed to any process).
func leaveStale(t *testing.T, runDir string, pid string) {
	t.Helper()
	ln, err := net.Listen("unix", control.SocketPath(runDir))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if err := os.WriteFile(control.PIDPath(runDir), []byte(pid+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Defect 13: a daemon starting where a killed one left its pid file and
// socket removes both as soon as it holds the lock, before anything else,
// so the pid file never names the dead daemon's pid while it starts; one
// that finds the lock held touches nothing.
func TestClaimClearsWhatAKilledDaemonLeft(t *testing.T) {
	runDir := t.TempDir()
	leaveStale(t, runDir, "1") // pid 1: alive, and not a plumb daemon
	lock, err := claim(runDir)
	if err != nil || lock == nil {
		t.Fatalf("claim of a free run dir: %v %v", lock, err)
	}
	defer lock.Unlock()
	for _, p := range []string{control.PIDPath(runDir), control.SocketPath(runDir)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left by the killed daemon still there once the lock is held: %v", p, err)
		}
	}

	// The lock is held: a second daemon leaves the first one's files be.
	leaveStale(t, runDir, "1")
	second, err := claim(runDir)
	if err != nil || second != nil {
		second.Unlock()
		t.Fatalf("claim of a held run dir: %v %v, want nil, nil", second, err)
	}
	for _, p := range []string{control.PIDPath(runDir), control.SocketPath(runDir)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("a daemon that lost the lock removed %s: %v", p, err)
		}
	}
}

// Defect 13, whole: a daemon killed with SIGKILL leaves its pid file and
// socket; nothing trusts them. Running says no daemon runs, a client gets
// ErrNotRunning at once, and the next daemon takes over: Running and the
// pid file name it, and it removes both at a clean exit.
func TestKilledDaemonLeavesNothingTrusted(t *testing.T) {
	state, runDir := t.TempDir(), t.TempDir()
	first := startDaemonProcess(t, state, runDir)
	if pid, ok := control.Running(runDir); !ok || pid != first.pid {
		t.Fatalf("daemon %d serving: Running = %d, %v", first.pid, pid, ok)
	}
	first.proc.Kill()
	first.wait()
	for _, p := range []string{control.PIDPath(runDir), control.SocketPath(runDir)} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the killed daemon left no %s (this test expects it to): %v", p, err)
		}
	}
	if pid, ok := control.Running(runDir); ok {
		t.Errorf("daemon killed: Running = %d, true", pid)
	}
	c := control.NewClient(runDir, nil)
	defer c.Close()
	if err := c.Ping(); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("Ping over the killed daemon's socket: %v, want ErrNotRunning", err)
	}

	second := startDaemonProcess(t, state, runDir)
	if pid, ok := control.Running(runDir); !ok || pid != second.pid {
		t.Errorf("second daemon %d serving: Running = %d, %v", second.pid, pid, ok)
	}
	if b, err := os.ReadFile(control.PIDPath(runDir)); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(second.pid) {
		t.Errorf("pid file of the second daemon %d: %q %v", second.pid, b, err)
	}
	second.proc.Signal(syscall.SIGTERM)
	if err := second.wait(); err != nil {
		t.Fatalf("second daemon after SIGTERM: %v", err)
	}
	for _, p := range []string{control.PIDPath(runDir), control.SocketPath(runDir)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left by a daemon that exited cleanly: %v", p, err)
		}
	}
	if pid, ok := control.Running(runDir); ok {
		t.Errorf("daemon exited: Running = %d, true", pid)
	}
}

// The environment that makes this test binary a daemon (TestHelperDaemon).
const helperState, helperRunDir = "PLUMB_TEST_DAEMON_STATE", "PLUMB_TEST_DAEMON_RUNDIR"

// TestHelperDaemon is not a test: it is the daemon process that
// startDaemonProcess runs, until SIGTERM.
func TestHelperDaemon(t *testing.T) {
	state, runDir := os.Getenv(helperState), os.Getenv(helperRunDir)
	if state == "" || runDir == "" {
		t.Skip("the daemon process of TestKilledDaemonLeavesNothingTrusted, not a test")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, network.NewManager(state), Options{RunDir: runDir}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// daemonProcess is a daemon running in a process of its own.
type daemonProcess struct {
	pid    int
	proc   *os.Process
	exited chan struct{}
	err    error // how it exited, once exited is closed
}

// wait returns how the process exited.
func (d *daemonProcess) wait() error { <-d.exited; return d.err }

// startDaemonProcess runs a daemon over state and runDir in a process of
// its own and returns once its socket answers; it is killed at cleanup.
// As root the process has a network namespace of its own: the daemon
// deletes the retired veths of its namespace at start, and the host's
// belong to whoever else runs there.
func startDaemonProcess(t *testing.T, state, runDir string) *daemonProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$")
	cmd.Env = append(os.Environ(), helperState+"="+state, helperRunDir+"="+runDir)
	cmd.Stderr = os.Stderr
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProcess{pid: cmd.Process.Pid, proc: cmd.Process, exited: make(chan struct{})}
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.proc.Kill(); d.wait() })
	c := control.NewClient(runDir, nil)
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c.Ping() == nil {
			return d
		}
		select {
		case <-d.exited:
			t.Fatalf("daemon process %d exited at start: %v", d.pid, d.err)
		default:
		}
	}
	t.Fatalf("daemon process %d never answered", d.pid)
	return nil
}
