package etcdtest

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// spawn starts m's process in its own process group, its output appended
// to m.LogPath, with no ETCD_* variable of the environment leaking into
// its configuration.
func (m *Member) spawn() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return fmt.Errorf("etcd member %s is already running (pid %d)", m.Name, m.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	name, args := Binary, m.args
	if m.NetNS != "" {
		name, args = "ip", append([]string{"netns", "exec", m.NetNS, Binary}, m.args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting etcd member %s: %w", m.Name, err)
	}
	m.cmd = cmd
	m.waitErr = make(chan error, 1)
	go func(c chan<- error) { c <- cmd.Wait() }(m.waitErr)
	return nil
}

// cleanEnv is the test's environment without ETCD_* (etcd reads its flags
// from those too) and ETCDCTL_*.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD") {
			env = append(env, kv)
		}
	}
	return env
}

// PID returns the process id of the running member, 0 when it is not
// running.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Kill kills the member's process group with SIGKILL (a crash: no
// goodbye to its peers) and waits for the process to be gone. Safe to
// repeat; registered with t.Cleanup by every start. When the test has
// failed, it logs the end of the member's log.
func (m *Member) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	<-m.waitErr
	m.cmd = nil
	if m.t.Failed() {
		m.t.Logf("etcd member %s (%s), last lines of %s:\n%s", m.Name, m.ClientURL, m.LogPath, tail(m.LogPath, 15))
	}
}

// Restart starts a killed member again on its data directory and ports
// (it rejoins its cluster as the same member) and waits until it answers
// /health, failing the test otherwise.
func (m *Member) Restart() {
	m.t.Helper()
	if err := m.spawn(); err != nil {
		m.t.Fatalf("etcdtest: %v", err)
	}
	m.WaitReady()
}

// WaitReady waits until the member answers /health with "true" (it has a
// leader), failing the test after 30 s or when the process exits.
func (m *Member) WaitReady() {
	m.t.Helper()
	if err := m.waitReady(readyTimeout); err != nil {
		m.t.Fatalf("etcdtest: %v", err)
	}
}

func (m *Member) waitReady(timeout time.Duration) error {
	m.mu.Lock()
	exited := m.waitErr
	m.mu.Unlock()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err // Kill still waits on it
			return fmt.Errorf("etcd member %s exited (%v) before it was ready; last lines of %s:\n%s",
				m.Name, err, m.LogPath, tail(m.LogPath, 15))
		case <-time.After(50 * time.Millisecond):
		}
		if last = m.healthy(); last == nil {
			return nil
		}
	}
	return fmt.Errorf("etcd member %s (%s) not ready after %v: %v; last lines of %s:\n%s",
		m.Name, m.ClientURL, timeout, last, m.LogPath, tail(m.LogPath, 15))
}

// healthy asks the member's /health once, from inside its namespace.
func (m *Member) healthy() error {
	u, err := url.Parse(m.ClientURL)
	if err != nil {
		return err
	}
	conn, err := dialIn(m.NetNS, u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(conn, "GET /health HTTP/1.0\r\nHost: %s\r\n\r\n", u.Host)
	var body strings.Builder
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		body.WriteString(sc.Text())
	}
	if !strings.Contains(body.String(), `"health":"true"`) {
		return fmt.Errorf("/health answered %q", body.String())
	}
	return nil
}

// dialIn opens a TCP connection to addr from inside the named network
// namespace ("" for the caller's own). The socket is made on a thread
// switched into the namespace and keeps the namespace after the switch
// back; a thread that cannot switch back is dropped by the runtime.
func dialIn(ns, addr string) (net.Conn, error) {
	if ns == "" {
		return net.DialTimeout("tcp", addr, time.Second)
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("netns %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if netns.Set(orig) == nil {
		runtime.UnlockOSThread()
	}
	return conn, err
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
