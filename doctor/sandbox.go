package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/plumbnet/plumb/sandbox"
)

// sandboxWait bounds doctor's one question to dockerd, the list of this
// state directory's holders, so that a dockerd that hangs cannot hang
// doctor. A dockerd that is not there costs nothing: dialling a missing
// socket, or one nobody listens on, fails at once.
var sandboxWait = 5 * time.Second

// checkSandboxes finds this state directory's sandboxes whose holder
// container is on no network (sandbox.List: no endpoint names it, not
// even a stale one). That is what a `sandbox create` killed before its
// attach leaves, or a `sandbox rm` killed after its detach, and also what
// `network rm --force` leaves of the sandboxes on that network.
//
// It is a note, not a problem: nothing of plumb's is inconsistent (no
// link, address, rule or record leaks; the holder is listed by `sandbox
// ls`), and ordinary commands reach the same state, which doctor must not
// fail for. Nor does --fix remove the holder: doctor cannot tell a killed
// create (whose user wanted it attached) from a killed rm (who wanted it
// gone), and apps may have joined its namespace; the note gives both
// commands.
//
// With no dockerd, or a DOCKER_HOST plumb cannot use, there is nothing to
// report: no holder runs. While a network's records cannot be read (its
// own finding) no holder is judged: its endpoints may be among them.
func checkSandboxes(ctx context.Context, d *Doctor) []*Finding {
	names, err := d.M.NetworkNames()
	if err != nil {
		return nil
	}
	for _, n := range names {
		if _, err := d.M.Endpoints(n); err != nil {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, sandboxWait)
	defer cancel()
	sbs, err := sandbox.List(ctx, d.M)
	if err != nil {
		return nil
	}
	var out []*Finding
	for _, sb := range sbs {
		if len(sb.Endpoints) == 0 {
			out = append(out, detachedSandbox(sb))
		}
	}
	return out
}

// detachedSandbox is the note on sb, a holder on no network.
func detachedSandbox(sb *sandbox.Sandbox) *Finding {
	netName := sb.CreatedFor
	if netName == "" {
		netName = "NETWORK"
	}
	what := "its holder container runs, on no network"
	if !sb.Running {
		what = "its holder container is stopped, and on no network"
	}
	return &Finding{Check: "sandbox-detached", Severity: Note,
		Subject: fmt.Sprintf("sandbox %s (container %.12s)", sb.Name, sb.ContainerID),
		What:    what,
		Means: "apps run in it (--network=container:" + sb.Name + ") have no network: a sandbox create or rm was cut short, " +
			"or the networks it was on were removed",
		Fix: fmt.Sprintf("`plumb sandbox create %s --net %s` attaches it (add the -p, --ip or --alias it is meant to have), "+
			"or `plumb sandbox rm %s` removes it", sb.Name, netName, sb.Name)}
}
