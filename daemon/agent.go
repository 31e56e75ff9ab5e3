package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/overlay"
)

// Agent is the cluster agent (plumb-cluster agent) the daemon runs and
// supervises beside itself when it has a store (`plumb daemon --store`).
// The daemon never links the etcd client: it runs the agent's binary.
type Agent struct {
	Exe      string     // the plumb-cluster binary
	Store    string     // etcd://HOST:PORT[,...]
	Host     string     // this host's name in the store
	Underlay netip.Addr // this host's VTEP address; zero: DefaultUnderlay
	StateDir string
	RunDir   string
	Args     []string // more flags for the agent (--ttl, --block-bits)
}

// The agent's restarts: the first after agentFirstBackoff, doubling to
// agentMaxBackoff while it keeps dying; an agent that ran agentStable
// starts the count again.
const (
	agentFirstBackoff = time.Second
	agentMaxBackoff   = 30 * time.Second
	agentStable       = time.Minute
	agentStopWait     = 10 * time.Second
)

// AgentPIDPath is where the running agent's pid is: RUNDIR/agent.pid.
func AgentPIDPath(runDir string) string { return filepath.Join(runDir, "agent.pid") }

// check fills in the underlay and checks the binary is there, in one line
// naming what is missing.
func (a *Agent) check() error {
	if _, err := os.Stat(a.Exe); err != nil {
		return fmt.Errorf("the cluster agent %s is missing (it is installed beside plumb): %w", a.Exe, errors.Unwrap(err))
	}
	if a.Underlay.IsValid() {
		return nil
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if a.Underlay, err = overlay.DefaultUnderlay(h); err != nil {
		return fmt.Errorf("%w: give --underlay ADDR", err)
	}
	return nil
}

// args is the agent's command line. Equivalent to:
//
//	plumb-cluster agent --store URL --host NAME --underlay ADDR --state-dir DIR --run-dir DIR
func (a *Agent) args() []string {
	return append([]string{"agent", "--store", a.Store, "--host", a.Host, "--underlay", a.Underlay.String(),
		"--state-dir", a.StateDir, "--run-dir", a.RunDir}, a.Args...)
}

// supervise runs the agent until ctx ends, starting it again, after a
// backoff, whenever it exits; then it stops it (SIGTERM, SIGKILL after
// agentStopWait). The agent's output goes to RUNDIR/agent.log.
func (a *Agent) supervise(ctx context.Context, logf func(string, ...any)) {
	// The agent is started with Pdeathsig, which follows the thread that
	// started it: this goroutine keeps its thread, so the agent outlives
	// no daemon, and dies with no thread the runtime retires.
	runtime.LockOSThread()
	wait := agentFirstBackoff
	for {
		started := time.Now()
		err := a.runOnce(ctx, logf)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > agentStable {
			wait = agentFirstBackoff
		}
		logf("plumb daemon: the cluster agent exited (%v): starting it again in %s", err, wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, agentMaxBackoff)
	}
}

// runOnce runs the agent until it exits or ctx ends (then it stops it).
func (a *Agent) runOnce(ctx context.Context, logf func(string, ...any)) error {
	logFile, err := os.OpenFile(filepath.Join(a.RunDir, "agent.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(a.Exe, a.args()...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	pidFile := AgentPIDPath(a.RunDir)
	os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	defer os.Remove(pidFile)
	logf("plumb daemon: cluster agent pid %d: %s %v", cmd.Process.Pid, a.Exe, a.args())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(agentStopWait):
		cmd.Process.Kill()
		return <-done
	}
}
