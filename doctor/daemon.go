package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
)

// checkDaemon checks that the daemon runs and answers when networks exist,
// and holds every recorded published port.
func checkDaemon(ctx context.Context, d *Doctor) []*Finding {
	runDir := d.M.RunDirPath()
	nets, _ := d.M.List()
	pid, running := control.Running(runDir)
	var out []*Finding
	if !running {
		for _, p := range []string{control.PIDPath(runDir), control.SocketPath(runDir)} {
			if _, err := os.Lstat(p); err == nil {
				out = append(out, &Finding{Check: "daemon-files", Severity: Problem, Subject: p,
					What: "left by a daemon that is gone", Means: "it names a process or socket that is not there",
					Fix: "remove it", Owned: true,
					repair: func(context.Context) error { return removeIfNotRunning(runDir, p) }})
			}
		}
		if len(nets) > 0 {
			out = append(out, &Finding{Check: "daemon", Severity: Problem, Subject: "plumb daemon (" + runDir + ")",
				What:  "not running",
				Means: "no names resolve at 127.0.0.11, no gateway answers DNS, published host ports are not held",
				Fix:   "start it (`plumb daemon`, or the systemd unit lab/plumb.service)", Owned: true,
				repair: func(context.Context) error { return d.M.StartDaemon() }})
		}
		return out
	}
	served, err := d.M.Served()
	if err != nil {
		return append(out, &Finding{Check: "daemon", Severity: Problem, Subject: fmt.Sprintf("plumb daemon pid %d", pid),
			What: "does not answer: " + err.Error(), Means: "names do not resolve and attach and detach hang",
			Fix: fmt.Sprintf("`kill %d`, then `plumb doctor --fix` starts a new one", pid)})
	}
	eps, _ := d.M.AllEndpoints("")
	for _, ep := range eps {
		if len(ep.Ports) == 0 || ep.Stale() || served.Held[control.Key(ep.Network, ep.ID)] {
			continue
		}
		out = append(out, &Finding{Check: "held-port", Severity: Problem, Subject: fmt.Sprintf("ports of %s on %s", ep.Target, ep.Network),
			What:  "the daemon does not hold its host ports",
			Means: "another process may take them, and then the published ports answer nothing",
			Fix:   "have the daemon take them back (it fails if some other process holds one)", Owned: true,
			repair: func(context.Context) error { return d.M.StartDaemon() }})
	}
	return append(out, strayHolds(d, served.Held)...)
}

// strayHolds finds the host ports the daemon holds for an endpoint that
// has no record with ports (network.StrayHolds).
func strayHolds(d *Doctor, held map[string]bool) []*Finding {
	strays, err := d.M.StrayHolds(held)
	if err != nil {
		return nil // checkNetworks reports what makes the records unreadable
	}
	var out []*Finding
	for _, s := range strays {
		out = append(out, &Finding{Check: "stray-hold", Severity: Problem, Subject: "host ports held for " + s.Network + "/" + s.ID,
			What:  "the daemon holds host ports for an endpoint that has no record",
			Means: "no endpoint can publish those ports: a leak of an attach cut short",
			Fix:   "have the daemon let them go", Owned: true,
			repair: func(context.Context) error { return d.M.ReleaseStrayHold(s) }})
	}
	return out
}

// removeIfNotRunning removes a file a dead daemon left, if still no daemon
// holds the run directory.
func removeIfNotRunning(runDir, path string) error {
	if _, running := control.Running(runDir); running {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// netnsLeftovers finds the temporary files older plumbs left in
// /etc/netns/NAME, which `ip netns exec NAME` trips on.
func netnsLeftovers() []*Finding {
	names, _ := container.NetnsLeftoverNames()
	var out []*Finding
	for _, ns := range names {
		out = append(out, &Finding{Check: "netns-temp-file", Severity: Problem, Subject: "/etc/netns/" + ns,
			What: "holds a temporary file of an interrupted write", Means: "`ip netns exec " + ns + "` complains on every run",
			Fix: "remove it", Owned: true,
			repair: func(context.Context) error { return container.RemoveNetnsLeftovers(ns) }})
	}
	return out
}
