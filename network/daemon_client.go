package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultRunDir holds the daemon's control socket, pid file and log.
const DefaultRunDir = "/run/plumb"

// daemonRequest is one request on the daemon's control socket: one JSON
// object per connection, answered by one daemonReply.
type daemonRequest struct {
	Op       string        `json:"op"` // ping, up, down, sync, records, hold, release
	Network  string        `json:"network,omitempty"`
	Endpoint *Endpoint     `json:"endpoint,omitempty"`
	Ports    []portRequest `json:"ports,omitempty"` // hold
	// Reap, with "down", asks the daemon to delete a retired veth in the
	// background (reap.go).
	Reap *reapRequest `json:"reap,omitempty"`
}

type daemonReply struct {
	Error   string          `json:"error,omitempty"`
	Records []DNSRecord     `json:"records,omitempty"`
	Ports   []PublishedPort `json:"ports,omitempty"` // hold
}

// DNSRecord is one name the daemon answers, for `plumb dns ls`.
type DNSRecord struct {
	Network  string `json:"network"`
	Name     string `json:"name"`
	IP       string `json:"ip"`
	Endpoint string `json:"endpoint"`
}

// ErrDaemonNotRunning is returned by requests that do not start the daemon.
var ErrDaemonNotRunning = errors.New("plumb daemon is not running")

// runDir is RunDir, else DefaultRunDir for the default state dir, else
// STATEDIR/run: two state directories never share a daemon.
func (m *Manager) runDir() string {
	if m.RunDir != "" {
		return m.RunDir
	}
	if filepath.Clean(m.StateDir) == DefaultStateDir {
		return DefaultRunDir
	}
	return filepath.Join(m.StateDir, "run")
}

func (m *Manager) socketPath() string { return filepath.Join(m.runDir(), "plumb.sock") }

// ask sends req to the daemon and returns its reply. With start set, a
// daemon that is not running is started first (the first attach does so);
// otherwise ErrDaemonNotRunning is returned.
func (m *Manager) ask(req daemonRequest, start bool) (*daemonReply, error) {
	c, err := net.DialTimeout("unix", m.socketPath(), time.Second)
	if err != nil && start {
		if err := m.startDaemon(); err != nil {
			return nil, err
		}
		c, err = net.DialTimeout("unix", m.socketPath(), time.Second)
	}
	if err != nil {
		return nil, ErrDaemonNotRunning
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("talking to the plumb daemon: %w", err)
	}
	var rep daemonReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return nil, fmt.Errorf("reading the plumb daemon's answer: %w", err)
	}
	if rep.Error != "" {
		return &rep, fmt.Errorf("plumb daemon: %s", rep.Error)
	}
	return &rep, nil
}

// startDaemon starts `plumb daemon --exit-when-idle` in its own session,
// logging to RUNDIR/daemon.log, and waits until its control socket answers.
// Two attaches racing to start it are fine: the daemon takes an flock and
// the second one exits at once.
func (m *Manager) startDaemon() error {
	if err := os.MkdirAll(m.runDir(), 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the plumb binary to start the daemon: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(m.runDir(), "daemon.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "daemon", "--state-dir", m.StateDir, "--run-dir", m.runDir(), "--exit-when-idle")
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
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", m.socketPath()); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			// Lost a race to another daemon? Then its socket answers soon.
			if c, derr := net.DialTimeout("unix", m.socketPath(), 2*time.Second); derr == nil {
				c.Close()
				return nil
			}
			return fmt.Errorf("the plumb daemon exited at start (%v): see %s", err, logf.Name())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("the plumb daemon did not answer within 5s: see %s", logf.Name())
}

// daemonUp tells the daemon about ep and returns once its names resolve
// and its namespace has a listener at 127.0.0.11. It starts the daemon if
// needed.
func (m *Manager) daemonUp(ep *Endpoint) error {
	_, err := m.ask(daemonRequest{Op: "up", Endpoint: ep}, true)
	return err
}

// daemonDown tells the daemon ep is gone; its names stop resolving before
// this returns. A daemon that is not running has nothing to forget.
func (m *Manager) daemonDown(ep *Endpoint) error {
	_, err := m.ask(daemonRequest{Op: "down", Endpoint: ep}, false)
	if errors.Is(err, ErrDaemonNotRunning) {
		return nil
	}
	return err
}

// holdPorts has the daemon bind the host side of specs for ep (starting
// it if needed) and returns the ports it holds: the host ports are
// reserved from then on, until releasePorts.
func (m *Manager) holdPorts(ep *Endpoint, specs []PortSpec) ([]PublishedPort, error) {
	rep, err := m.ask(daemonRequest{Op: "hold", Endpoint: ep, Ports: portRequests(specs)}, true)
	if err != nil {
		if rep != nil && rep.Error != "" {
			return nil, errors.New(rep.Error) // "publishing 0.0.0.0:80/tcp: port is already in use"
		}
		return nil, err
	}
	return rep.Ports, nil
}

// releasePorts has the daemon close ep's host ports. A daemon that is not
// running holds nothing.
func (m *Manager) releasePorts(ep *Endpoint) error {
	_, err := m.ask(daemonRequest{Op: "release", Endpoint: ep}, false)
	if errors.Is(err, ErrDaemonNotRunning) {
		return nil
	}
	return err
}

// daemonSync asks a running daemon to reread the state (after network
// create or rm); it does not start one.
func (m *Manager) daemonSync() error {
	_, err := m.ask(daemonRequest{Op: "sync"}, false)
	if errors.Is(err, ErrDaemonNotRunning) {
		return nil
	}
	return err
}

// DNSRecords lists the names the running daemon serves, on netName or on
// every network.
func (m *Manager) DNSRecords(netName string) ([]DNSRecord, error) {
	if netName != "" {
		if _, err := m.Get(netName); err != nil {
			return nil, err
		}
	}
	rep, err := m.ask(daemonRequest{Op: "records", Network: netName}, false)
	if err != nil {
		return nil, err
	}
	return rep.Records, nil
}
