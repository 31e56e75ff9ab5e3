package explain

import (
	"fmt"
	"io"
)

// WriteText writes r for a person: the numbered steps, each with its
// rule and command, then the verdict and what the probe saw.
func (r *Report) WriteText(w io.Writer) {
	for _, s := range r.Steps {
		line := fmt.Sprintf("%d. %s", s.N, s.Detail)
		if s.Result != "" {
			line += " → " + s.Result
		}
		fmt.Fprintln(w, line)
		if s.Rule != "" {
			fmt.Fprintf(w, "     rule: %s\n", s.Rule)
		}
		if s.Command != "" {
			fmt.Fprintf(w, "     $ %s\n", s.Command)
		}
	}
	for _, d := range r.Drift {
		fmt.Fprintf(w, "drift: %s\n", d)
	}
	v := "verdict: " + r.Verdict
	if r.Reason != "" {
		v += " (" + r.Reason + ")"
	}
	fmt.Fprintln(w, v)
	if p := r.Probe; p != nil {
		agree := "agrees"
		if !p.Agrees {
			agree = "DISAGREES"
		}
		fmt.Fprintf(w, "probe: %s (%s): %s\n", p.Result, p.Detail, agree)
	}
}
