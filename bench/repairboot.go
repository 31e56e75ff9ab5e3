package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plumbnet/plumb/daemon/control"
)

// BootRun is one simulated reboot of the world: the daemon killed, every
// bridge and host veth deleted, the rules flushed, forwarding off; the
// state dir and the target namespaces kept; then `plumb daemon` started.
type BootRun struct {
	Wall  time.Duration `json:"wall"`  // daemon start → plumb ps shows every endpoint up; 0: not within the bound
	Ports time.Duration `json:"ports"` // daemon start → every published port answers; 0: not within the bound
	Up    int           `json:"up"`    // endpoints up at the end
	Of    int           `json:"of"`    // endpoints ps listed at the end
	CPU   time.Duration `json:"cpu"`   // the new daemon's CPU until the end
	Links int           `json:"links"` // links deleted
	Err   string        `json:"err,omitempty"`
}

// bootBound bounds the wait for a boot restore.
func (p *Plan) bootBound() time.Duration { return 6 * p.RepairBound }

// reboots simulates p.RepairBoots reboots of the world, stopping after one
// that did not bring everything back.
func (w *worker) reboots(ctx context.Context, probes []probe) error {
	p, r := w.plan, w.repairResults()
	r.BootN = repairWorld.endpoints()
	for b := 1; b <= p.RepairBoots; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		logf("  repair-scale: reboot %d/%d: kill the daemon, delete bridges and veths, flush; start `plumb daemon`", b, p.RepairBoots)
		x := w.reboot(ctx, probes)
		r.Boots = append(r.Boots, x)
		if x.Err != "" || x.Wall == 0 || x.Ports == 0 {
			break
		}
	}
	return ctx.Err()
}

// reboot is one simulated reboot and the wait for the restore.
func (w *worker) reboot(ctx context.Context, probes []probe) BootRun {
	p := w.plan
	var x BootRun
	var err error
	if x.Links, err = w.simulateReboot(); err != nil {
		x.Err = "simulating the reboot: " + err.Error()
		return x
	}
	cmd, exited, err := w.startDaemon()
	if err != nil {
		x.Err = err.Error()
		return x
	}
	t0 := time.Now()
	d := &driftRun{probes: probes, poll: repairScalePoll}
	for time.Since(t0) <= p.bootBound() && ctx.Err() == nil {
		if x.Ports == 0 {
			if _, ok := d.wait(ctx, time.Now(), 0, nil); ok {
				x.Ports = time.Since(t0)
			}
		}
		if x.Wall == 0 {
			x.Up, x.Of, err = w.upCount()
			if err == nil && x.Of == repairWorld.endpoints() && x.Up == x.Of {
				x.Wall = time.Since(t0)
			}
		}
		if x.Wall != 0 && x.Ports != 0 {
			break
		}
		select {
		case err := <-exited:
			x.Err = fmt.Sprintf("the daemon exited (%v): %s", err, daemonLogTail(p))
			return x
		case <-time.After(250 * time.Millisecond):
		}
	}
	x.CPU = procCPUAll(cmd.Process.Pid)
	if x.Wall == 0 {
		x.Up, x.Of, err = w.upCount()
		if err != nil {
			x.Err = err.Error()
		}
	}
	return x
}

// simulateReboot does to the bench's host netns what a reboot does to a
// host: the daemon killed, every plumb bridge and host veth gone, the
// rules flushed (plumb's own nftables table too), forwarding off, /run
// emptied of the dead daemon's socket and pid file. It returns how many
// links it deleted.
func (w *worker) simulateReboot() (int, error) {
	if err := w.killDaemon(); err != nil {
		return 0, err
	}
	links, err := w.deleteLinks()
	if err == nil {
		err = w.flush()
	}
	if err == nil {
		_, err = w.inHost("sysctl", "-qw", "net.ipv4.ip_forward=0")
	}
	if err == nil {
		err = w.deleteGuardTable()
	}
	for _, f := range []string{control.SocketPath(w.plan.runDir()), control.PIDPath(w.plan.runDir())} {
		_ = os.Remove(f)
	}
	return links, err
}

// killDaemon ends the run's daemon with SIGKILL, by the pid in its pid
// file, and waits until it is gone.
func (w *worker) killDaemon() error {
	pid, err := daemonPID(w.plan.runDir(), w.plan.Plumb)
	if err != nil {
		return fmt.Errorf("no daemon to kill: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	for t0 := time.Now(); isDaemon(pid, w.plan.Plumb, w.plan.runDir()); time.Sleep(10 * time.Millisecond) {
		if time.Since(t0) > 10*time.Second {
			return fmt.Errorf("the daemon (pid %d) is still there 10 s after SIGKILL", pid)
		}
	}
	return nil
}

// deleteLinks deletes every plumb bridge and every endpoint's host veth
// (the peer, the target's interface, goes with it), in one `ip -batch`
// run inside the bench's host netns. It returns how many it deleted.
func (w *worker) deleteLinks() (int, error) {
	nets, err := w.networks()
	if err != nil {
		return 0, err
	}
	eps, err := w.psRows()
	if err != nil {
		return 0, err
	}
	var batch []string
	for _, ep := range eps {
		batch = append(batch, "link del "+ep.HostVeth)
	}
	for _, n := range nets {
		batch = append(batch, "link del "+n.Bridge)
	}
	f := filepath.Join(w.plan.TmpDir, "reboot.batch")
	if err := os.WriteFile(f, []byte(strings.Join(batch, "\n")+"\n"), 0o644); err != nil {
		return 0, err
	}
	_, err = w.inHost("ip", "-force", "-batch", f)
	return len(batch), err
}

// deleteGuardTable deletes plumb's own nftables table (the localnet guard,
// which `iptables -F` leaves) inside the bench's host netns, as a reboot
// would. Equivalent to: `nft delete table inet plumb`.
func (w *worker) deleteGuardTable() error {
	if _, err := exec.LookPath("nft"); err != nil {
		w.repairResults().note("reboot: no nft binary: plumb's nftables table (the localnet guard), if any, was kept")
		return nil
	}
	out, err := w.inHost("nft", "delete", "table", "inet", "plumb")
	if err != nil && !strings.Contains(err.Error()+out, "No such file") {
		return err
	}
	return nil
}

// psRow is what the repair section reads of `plumb ps --format json`.
type psRow struct {
	Target        string `json:"target"`
	ContainerName string `json:"containerName"`
	IP            string `json:"ip"` // ADDR/LEN
	HostVeth      string `json:"hostVeth"`
	State         string `json:"state"`
}

// psRows reads `plumb ps --format json`, untimed.
func (w *worker) psRows() ([]psRow, error) { return readPS(w.plan) }

func readPS(p *Plan) ([]psRow, error) {
	out, err := inHost(p, plumbArgv(p, "ps", "--format", "json")...)
	if err != nil {
		return nil, err
	}
	var rows []psRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		return nil, fmt.Errorf("reading plumb ps --format json: %w", err)
	}
	return rows, nil
}

// upCount is how many endpoints plumb ps shows up, of how many.
func (w *worker) upCount() (up, of int, err error) {
	rows, err := w.psRows()
	for _, r := range rows {
		if r.State == "up" {
			up++
		}
	}
	return up, len(rows), err
}

// startDaemon starts `plumb daemon` as the first attach does (and as a
// systemd unit would at boot), in its own session, inside the bench's
// host netns, logging to RUNDIR/daemon.log. The channel gets its exit.
// Equivalent to: `setsid plumb daemon --state-dir S --run-dir R
// --exit-when-idle >>R/daemon.log 2>&1 &`.
func (w *worker) startDaemon() (*exec.Cmd, <-chan error, error) {
	p := w.plan
	log, err := os.OpenFile(filepath.Join(p.runDir(), "daemon.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer log.Close()
	cmd := exec.Command(p.Plumb, "daemon", "--state-dir", filepath.Join(p.TmpDir, "state"), "--run-dir", p.runDir(), "--exit-when-idle")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(cleanEnv(), w.run.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startInNetns(p.Host, cmd); err != nil {
		return nil, nil, fmt.Errorf("starting plumb daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, exited, nil
}

// daemonLogTail is the end of the daemon's log.
func daemonLogTail(p *Plan) string {
	b, _ := os.ReadFile(filepath.Join(p.runDir(), "daemon.log"))
	return tail(b, 400)
}
