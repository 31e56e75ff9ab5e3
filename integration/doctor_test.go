package integration

import (
	"fmt"
	"strings"
)

// finding is one line of `plumb doctor --format json` (doctor.Finding).
type finding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	What     string `json:"what"`
	Owned    bool   `json:"owned"`
	Fixed    bool   `json:"fixed"`
	FixError string `json:"fixError"`
}

// summarize counts findings by check id and outcome.
func summarize(fs []finding) string {
	m := map[string]int{}
	for _, f := range fs {
		k := f.Check
		switch {
		case f.Fixed:
			k += "(fixed)"
		case f.FixError != "":
			k += "(fix failed)"
		case f.Severity == "note":
			k += "(note)"
		}
		m[k]++
	}
	if len(m) == 0 {
		return "nothing"
	}
	return fmt.Sprintf("%d: %s", len(fs), strings.TrimSpace(counts(m)))
}
