package doctor

import (
	"context"
	"sort"

	"github.com/plumbnet/plumb/network"
)

// Severities of a finding.
const (
	// Problem: something does not work, or will not; doctor exits 1.
	Problem = "problem"
	// Note: worth knowing, nothing is broken (a stopped container's
	// endpoint, br_netfilter not loaded); doctor still exits 0.
	Note = "note"
)

// Finding is one thing doctor found.
type Finding struct {
	Check    string `json:"check"`    // stable id: "bridge", "stray-link", ...
	Severity string `json:"severity"` // Problem or Note
	Subject  string `json:"subject"`  // what it is about: "network web", "link pgone12", ...
	What     string `json:"what"`     // what is wrong, one line
	Means    string `json:"means"`    // what it means for traffic or for plumb
	Fix      string `json:"fix"`      // what --fix does, or the command to run
	// Owned: the finding is about plumb's own state, and --fix repairs it;
	// otherwise Fix is a command for a person.
	Owned bool `json:"owned"`
	// Fixed and FixError say what --fix did.
	Fixed    bool   `json:"fixed,omitempty"`
	FixError string `json:"fixError,omitempty"`

	repair func(context.Context) error
}

// Doctor examines one state directory and the host it is on.
type Doctor struct {
	M *network.Manager
	// Host checks the host's firewall and sysctls, with what networks
	// plumb has; nil: none (tests).
	Host func(nets []*network.Network) []*Finding
}

// checks are the parts of the comparison, in the order doctor runs them
// and prints their findings.
var checks = []func(context.Context, *Doctor) []*Finding{
	checkNetworks,
	checkEndpoints,
	checkLeaks,
	checkDaemon,
	checkSandboxes,
	checkOverlay,
}

// Examine runs every check and returns what it found, in order. It
// changes nothing.
func (d *Doctor) Examine(ctx context.Context) []*Finding {
	var out []*Finding
	if d.Host != nil {
		nets, _ := d.M.List()
		out = append(out, d.Host(nets)...)
	}
	for _, c := range checks {
		out = append(out, c(ctx, d)...)
	}
	return out
}

// Fix repairs the findings plumb owns, in order, and records on each what
// happened. A finding whose repair fails keeps its error; the others go on.
func (d *Doctor) Fix(ctx context.Context, fs []*Finding) {
	for _, f := range fs {
		if !f.Owned || f.repair == nil {
			continue
		}
		if err := f.repair(ctx); err != nil {
			f.FixError = err.Error()
			continue
		}
		f.Fixed = true
	}
}

// Heal examines, repairs what plumb owns, and examines again, up to three
// rounds: a repair can bring out what it hid (a network's endpoints can
// be judged only once its endpoints directory is one again). It returns
// every finding of every round, in order, and the problems the last
// examination still finds.
func (d *Doctor) Heal(ctx context.Context) (all []*Finding, remaining int) {
	found := d.Examine(ctx)
	for round := 0; ; round++ {
		d.Fix(ctx, found)
		all = append(all, found...)
		again := d.Examine(ctx)
		if round == 2 || !anyOwnedProblem(again) {
			for _, f := range again {
				if f.Severity == Problem {
					remaining++
				}
			}
			return all, remaining
		}
		found = again
	}
}

func anyOwnedProblem(fs []*Finding) bool {
	for _, f := range fs {
		if f.Owned && f.Severity == Problem {
			return true
		}
	}
	return false
}

// Remaining counts the problems --fix did not (or could not) repair.
func Remaining(fs []*Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == Problem && !f.Fixed {
			n++
		}
	}
	return n
}

// sorted returns names in order.
func sorted(names []string) []string {
	sort.Strings(names)
	return names
}
