package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Targets of issue 13's bench section.
const (
	targetPsVsBaseline = 2.0         // plumb ps p50 / the baseline's, at truthNets*truthPerNet endpoints
	targetDoctorP50    = time.Second // plumb doctor p50 at truthNets networks / truthNets*truthPerNet endpoints
)

// truthTargets writes the truth rows of the targets table.
func (r *Report) truthTargets(b *strings.Builder) {
	t, p := r.Results.Truth, r.Plan
	eps := truthNets * truthPerNet
	psName := fmt.Sprintf("plumb ps at %d endpoints p50 <= %.0fx its time before issue 13", eps, targetPsVsBaseline)
	docName := fmt.Sprintf("plumb doctor at %d networks / %d endpoints p50 <= %s", truthNets, eps, secs(targetDoctorP50))
	x, ok1 := r.p50("truth.ps")
	y, ok2 := r.p50("truth.ps.baseline")
	switch {
	case ok1 && ok2:
		q := float64(x) / float64(y)
		fmt.Fprintf(b, "| %s | %.2fx (%s / %s, interleaved) | %s |\n", psName, q, ms(x), ms(y), verdict(q <= targetPsVsBaseline))
	case p.BaselineSkip != "":
		fmt.Fprintf(b, "| %s | no baseline: %s | n/a |\n", psName, shorten(p.BaselineSkip, 200))
	case t != nil && t.BaselineErr != "":
		fmt.Fprintf(b, "| %s | the baseline failed: %s | n/a |\n", psName, shorten(t.BaselineErr, 200))
	default:
		fmt.Fprintf(b, "| %s | not measured | n/a |\n", psName)
	}
	if d, ok := r.p50("truth.doctor"); ok {
		fmt.Fprintf(b, "| %s | %s (%s) | %s |\n", docName, ms(d), t.exits(), verdict(d <= targetDoctorP50))
	} else {
		fmt.Fprintf(b, "| %s | not measured | n/a |\n", docName)
	}
}

// exits says how the timed doctor runs exited: "exit 0 in 40 of 40 runs".
func (t *TruthResults) exits() string {
	if t == nil {
		return ""
	}
	n := 0
	var codes []int
	for c, k := range t.DoctorExits {
		n += k
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		s := fmt.Sprintf("exit %d in %d of %d runs", c, t.DoctorExits[c], n)
		if c != 0 {
			s = "**" + s + "**"
		}
		if c != 0 && t.DoctorForeign > 0 {
			s += fmt.Sprintf(" (%d of them only for other processes' files in the host's /etc/netns)", t.DoctorForeign)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// truthSection writes the truth section's tables.
func (r *Report) truthSection(b *strings.Builder) {
	p, t := r.Plan, r.Results.Truth
	if !p.runs("truth") {
		return
	}
	eps := truthNets * truthPerNet
	fmt.Fprintf(b, "\n## Truth: plumb ps and plumb doctor at %d networks / %d endpoints (issue 13)\n\n", truthNets, eps)
	if t == nil {
		fmt.Fprintf(b, "Not run (the run stopped before it).\n")
		return
	}
	base := "no baseline: " + p.BaselineSkip
	if p.BaselineSkip == "" {
		base = "the baseline is plumb " + p.BaselineWhat
	}
	fmt.Fprintf(b, "In plumb's throwaway host netns: %d networks (`truth-1` … `truth-%d`, subnets 10.235.0.0/24 … 10.235.%d.0/24), "+
		"%d target namespaces attached %d per network (untimed fill), the daemon their attaches started serving them. Then "+
		"`plumb ps` (this plumb: each endpoint's state from kernel facts), `plumb ps` of the baseline on the same state dir "+
		"(the records alone, as before issue 13) and `plumb doctor` take turns, the first of each round rotating, %d rounds "+
		"after %d untimed; %s.\n\n",
		truthNets, truthNets, truthNets-1, eps, truthPerNet, p.TruthN, truthWarmups, base)
	rows := []row{r.row("truth.ps"), r.row("truth.ps.baseline")}
	if rr := ratioRow(r.Results.get("truth.ps"), r.Results.get("truth.ps.baseline")); rr.label != "" {
		rr.label = "ratio plumb ps / the baseline's"
		rows = append(rows, rr)
	}
	rows = append(rows, r.row("truth.doctor"), r.row("truth.attach"), r.row("truth.rm"))
	table(b, rows)
	fmt.Fprintln(b)
	if t.States != nil {
		fmt.Fprintf(b, "- States `plumb ps --format json` gave before the timed rounds: %s; after them: %s.\n",
			stateCounts(t.States), stateCounts(t.StatesAfter))
	}
	for _, o := range t.Odd {
		fmt.Fprintf(b, "  - not up: %s\n", o)
	}
	switch {
	case t.BaselineErr != "":
		fmt.Fprintf(b, "- **The baseline was left out of the rounds**: %s\n", t.BaselineErr)
	case p.BaselinePlumb != "":
		fmt.Fprintf(b, "- The baseline's `ps --format json` listed %d endpoints on the same state dir.\n", t.BaselineListed)
	}
	if e := t.exits(); e != "" {
		fmt.Fprintf(b, "- `plumb doctor` (timed): %s.\n", e)
	}
	for _, f := range t.DoctorFails {
		fmt.Fprintf(b, "  - `%s`\n", strings.ReplaceAll(f, "`", "'"))
	}
	if t.DoctorForeign > 0 {
		fmt.Fprintf(b, "  - %d run%s exited 1 only for files in /etc/netns of namespaces that are none of this run's "+
			"(%s): other plumb instances on the machine (parallel tests, with state dirs of their own) wrote them. "+
			"/etc/netns is the host's whatever the network namespace, and doctor judges every file there against its "+
			"own state dir, as problems it owns (`--fix` would remove them).\n", t.DoctorForeign, plural(t.DoctorForeign), strings.Join(t.Foreign, ", "))
	}
	if !t.Doctored {
		return
	}
	fmt.Fprintf(b, "- `plumb doctor --format json` once before the rounds: exit %d, ", t.DoctorExit)
	if len(t.Findings) == 0 {
		fmt.Fprintf(b, "no finding.\n")
		return
	}
	fmt.Fprintf(b, "%d finding%s:\n", len(t.Findings), plural(len(t.Findings)))
	for i, f := range t.Findings {
		if i == 10 {
			fmt.Fprintf(b, "  - … and %d more\n", len(t.Findings)-i)
			break
		}
		other := ""
		if foreignSubject(p, f.Subject) {
			other = " (not this run's: another process's namespace)"
		}
		fmt.Fprintf(b, "  - [%s] %s (%s): %s%s\n", f.Severity, f.Subject, f.Check, f.What, other)
	}
}

// stateCounts writes a state count as "up 1000" or "up 990, broken 10".
func stateCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none read"
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// secs formats a target duration: "1 s", "500 ms".
func secs(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return ms(d)
}
