package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"
)

// The truth section (issue 13): plumb ps, which now tells each endpoint's
// state from kernel facts, against plumb ps as it was before (the baseline
// binary, reading the records alone), and plumb doctor, on one host of
// truthNets networks with truthPerNet endpoints each. It runs in plumb's
// throwaway host netns, as every worker step does: the networks, bridges,
// rules and the daemon are the bench's own, and the host is a small one
// (lo, the networks' bridges and veths), so the host link dump and the
// firewall read are what plumb's own state makes them.
const (
	truthNets    = 100
	truthPerNet  = 10
	truthWarmups = 2 // untimed rounds before the timed ones
)

// truthNetName is the k-th network of the section (from 0), and its
// subnet: a /24 of 10.235.0.0/16, which no other step uses.
func truthNetName(k int) string { return fmt.Sprintf("truth-%d", k+1) }
func truthSubnet(k int) string  { return fmt.Sprintf("10.235.%d.0/24", k) }

// truthWorld is the section's host: truthNets networks of truthPerNet
// endpoints, targets 1..truthNets*truthPerNet.
var truthWorld = world{nets: truthNets, perNet: truthPerNet, name: truthNetName, subnet: truthSubnet,
	key: "truth.attach", op: fmt.Sprintf("attach netns:bt-i --net truth-k while filling %d networks with %d each", truthNets, truthPerNet)}

// TruthResults is what the truth section found besides its timings.
type TruthResults struct {
	Networks  int `json:"networks"`
	Endpoints int `json:"endpoints"`
	// States counts the states plumb ps --format json gave before the
	// timed runs and after them; Odd is the first few that were not up.
	States      map[string]int `json:"states"`
	StatesAfter map[string]int `json:"states_after"`
	Odd         []string       `json:"odd,omitempty"`
	// BaselineListed is how many endpoints the baseline's ps listed;
	// BaselineErr why it was left out of the rounds ("" when it was not).
	BaselineListed int    `json:"baseline_listed"`
	BaselineErr    string `json:"baseline_err,omitempty"`
	// DoctorExits counts the timed doctor runs by exit code; DoctorFails
	// is what the first few that did not exit 0 for a problem of this
	// run's own printed. DoctorForeign counts those that exited non-zero
	// only for files of other processes' namespaces in /etc/netns (see
	// foreignSubject), and Foreign names the first few of those files.
	DoctorExits   map[int]int `json:"doctor_exits"`
	DoctorFails   []string    `json:"doctor_fails,omitempty"`
	DoctorForeign int         `json:"doctor_foreign"`
	Foreign       []string    `json:"foreign,omitempty"`
	// Findings are doctor --format json's, run once untimed before the
	// rounds (Doctored); DoctorExit its exit code.
	Doctored   bool           `json:"doctored"`
	Findings   []TruthFinding `json:"findings"`
	DoctorExit int            `json:"doctor_exit"`
}

// TruthFinding is one of doctor's findings, as much as the report shows.
type TruthFinding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	What     string `json:"what"`
}

// truthCmd is one of the commands the rounds time.
type truthCmd struct {
	s    *Series
	argv []string
	exit bool // a non-zero exit is recorded, not an error (doctor)
}

// truthBench creates truthNets networks, attaches truthPerNet target
// namespaces to each, checks that plumb ps lists them all up and that the
// baseline lists them all, runs doctor once for its findings, and then
// times plumb ps, the baseline's ps and plumb doctor taking turns, round
// by round (the first of each round rotating), after truthWarmups untimed
// rounds. It removes the networks at the end and waits for the daemon
// their attaches started to exit; the worker's cleanup removes them too
// when the step fails first.
func (w *worker) truthBench(ctx context.Context) error {
	p := w.plan
	t := &TruthResults{Networks: truthNets, Endpoints: truthNets * truthPerNet, DoctorExits: map[int]int{}}
	w.res.Truth = t
	// A fresh daemon, started by this step's first attach, serving only
	// this step's endpoints.
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		w.res.note("truth: %s", n)
	}
	if err := w.buildWorld(ctx, truthWorld); err != nil {
		return err
	}

	var err error
	if t.States, t.Odd, err = w.truthStates(t.Endpoints); err != nil {
		return err
	}
	ps := &truthCmd{s: w.res.add(&Series{Key: "truth.ps", Tool: "plumb", Op: "ps (this plumb: states from kernel facts)"}),
		argv: plumbArgv(p, "ps")}
	cmds := []*truthCmd{ps}
	if p.BaselinePlumb != "" {
		n, err := w.baselineCount()
		t.BaselineListed = n
		switch {
		case err != nil:
			t.BaselineErr = err.Error()
		case n != t.Endpoints:
			t.BaselineErr = fmt.Sprintf("its ps --format json lists %d endpoints, want %d", n, t.Endpoints)
		default:
			cmds = append(cmds, &truthCmd{s: w.res.add(&Series{Key: "truth.ps.baseline", Tool: "plumb before issue 13",
				Op: "ps (baseline: the records alone)"}), argv: baselineArgv(p, "ps")})
		}
	}
	if t.Findings, t.DoctorExit, err = w.doctorFindings(); err != nil {
		return err
	}
	t.Doctored = true
	cmds = append(cmds, &truthCmd{s: w.res.add(&Series{Key: "truth.doctor", Tool: "plumb", Op: "doctor"}),
		argv: plumbArgv(p, "doctor"), exit: true})

	logf("  truth: %d rounds of %d commands, after %d untimed", p.TruthN, len(cmds), truthWarmups)
	for j := 1 - truthWarmups; j <= p.TruthN; j++ {
		for k := range cmds {
			if err := ctx.Err(); err != nil {
				return err
			}
			c := cmds[((j+k)%len(cmds)+len(cmds))%len(cmds)]
			x, err := w.run.Run("", nil, c.argv...)
			code := 0
			if ee := (*exec.ExitError)(nil); c.exit && errors.As(err, &ee) {
				code, err = ee.ExitCode(), nil
			}
			if err != nil {
				return err
			}
			if j >= 1 {
				c.s.Samples = append(c.s.Samples, x)
				if c.exit {
					t.DoctorExits[code]++
					if code != 0 {
						t.doctorFailed(p, j, code, w.run.Output())
					}
				}
			}
		}
		if j > 0 && j%10 == 0 {
			logf("  truth: %d/%d rounds", j, p.TruthN)
		}
	}
	if t.StatesAfter, _, err = w.truthStates(t.Endpoints); err != nil {
		return err
	}

	if err := w.removeWorld(truthWorld, "truth.rm", fmt.Sprintf("network rm --force (%d endpoints)", truthPerNet)); err != nil {
		return err
	}
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		w.res.note("truth: %s", n)
	}
	return nil
}

// baselineArgv is the command line of a baseline plumb call on the run's
// state and run dirs.
func baselineArgv(p *Plan, args ...string) []string {
	argv := plumbArgv(p, args...)
	argv[0] = p.BaselinePlumb
	return argv
}

// truthStates reads plumb ps --format json, untimed: it must list want
// endpoints; it returns how many are in each state, and the first few
// that are not up, with their reason.
func (w *worker) truthStates(want int) (map[string]int, []string, error) {
	if _, err := w.plumb("ps", "--format", "json"); err != nil {
		return nil, nil, err
	}
	var rows []struct{ Target, Network, State, Reason string }
	if err := json.Unmarshal([]byte(w.run.Output()), &rows); err != nil {
		return nil, nil, fmt.Errorf("reading plumb ps --format json: %w", err)
	}
	if len(rows) != want {
		return nil, nil, fmt.Errorf("plumb ps lists %d endpoints, want %d", len(rows), want)
	}
	states := map[string]int{}
	var odd []string
	for _, r := range rows {
		states[r.State]++
		if r.State != "up" && len(odd) < 5 {
			odd = append(odd, fmt.Sprintf("%s on %s: %s (%s)", r.Target, r.Network, r.State, r.Reason))
		}
	}
	return states, odd, nil
}

// baselineCount is how many endpoints the baseline's ps --format json
// lists, untimed.
func (w *worker) baselineCount() (int, error) {
	if _, err := w.run.Run("", nil, baselineArgv(w.plan, "ps", "--format", "json")...); err != nil {
		return 0, err
	}
	n := countJSONArray(w.run.Output())
	if n < 0 {
		return 0, errors.New("its ps --format json is not a JSON array")
	}
	return n, nil
}

// doctorFindings runs plumb doctor --format json once, untimed, and
// returns its findings and exit code.
func (w *worker) doctorFindings() ([]TruthFinding, int, error) {
	_, err := w.plumb("doctor", "--format", "json")
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	if err != nil {
		return nil, 0, err
	}
	out := w.run.Output()
	var fs []TruthFinding
	// The JSON array comes first; on exit 1 the error line follows it
	// (stdout and stderr go to the one log): decode the first value only.
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&fs); err != nil {
		return nil, code, fmt.Errorf("reading plumb doctor --format json (exit %d): %w: %s", code, err, tail([]byte(out), 300))
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Severity > fs[j].Severity }) // problems first
	return fs, code, nil
}

// doctorFailed records a timed doctor run that exited code in round j,
// having printed out.
func (t *TruthResults) doctorFailed(p *Plan, j, code int, out string) {
	var own, foreign []string
	for _, l := range strings.Split(out, "\n") {
		// "[problem] SUBJECT: what. Means. Fix: ..." (cmd/plumb/doctor.go)
		rest, ok := strings.CutPrefix(l, "[problem] ")
		if !ok {
			continue
		}
		subject, _, _ := strings.Cut(rest, ": ")
		if foreignSubject(p, subject) {
			foreign = append(foreign, subject)
		} else {
			own = append(own, subject)
		}
	}
	if len(own) == 0 && len(foreign) > 0 {
		t.DoctorForeign++
		for _, f := range foreign {
			if len(t.Foreign) < 6 && !slices.Contains(t.Foreign, f) {
				t.Foreign = append(t.Foreign, f)
			}
		}
		return
	}
	if len(t.DoctorFails) < 3 {
		t.DoctorFails = append(t.DoctorFails, fmt.Sprintf("round %d, exit %d: %s", j, code, tail([]byte(out), 800)))
	}
}

// foreignSubject reports whether a doctor finding's subject is a file of
// /etc/netns/NAME where NAME is none of this run's targets. /etc/netns is
// the host's, whatever the network namespace: every plumb on the machine
// (other people's tests, with their own state dirs) writes its netns
// targets' hosts and resolv.conf there, and doctor judges every file
// there against its own state dir.
func foreignSubject(p *Plan, subject string) bool {
	name, ok := strings.CutPrefix(subject, "/etc/netns/")
	return ok && !strings.HasPrefix(name, p.Prefix)
}
