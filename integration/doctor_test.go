package integration

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// finding is one line of `plumb doctor --format json` (doctor.Finding).
type finding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	What     string `json:"what"`
	Fix      string `json:"fix"`
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
	return fmt.Sprintf("%d: %s", len(fs), counts(m))
}

// doctor runs `plumb doctor [--fix] --format json` in h: its findings,
// and whether it exited 0.
func (h *host) doctor(fix bool) ([]finding, bool) {
	h.t.Helper()
	args := []string{"doctor", "--format", "json"}
	if fix {
		args = append(args, "--fix")
	}
	var fs []finding
	err := h.runJSON(&fs, args...)
	if err != nil && fs == nil {
		h.t.Fatalf("plumb %s: %v", strings.Join(args, " "), err)
	}
	return fs, err == nil
}

// has reports whether fs holds a finding of check, of severity sev.
func has(fs []finding, check, sev string) bool {
	return slices.ContainsFunc(fs, func(f finding) bool { return f.Check == check && f.Severity == sev })
}

// TestPrivilegedDoctor injects each problem `plumb doctor` checks for
// (doctorRows) into a healthy setup of its own (newDoctorWorld), expects
// doctor to exit 1 with that finding (0 and a note for a note), then
// `doctor --fix` to repair it (or, for what is not plumb's, to leave it
// with the command to run), and the setup whole again: every endpoint up
// in ps, reaching its gateway, the published port answering, and nothing
// left behind (countLeaks).
func TestPrivilegedDoctor(t *testing.T) {
	for _, r := range doctorRows {
		t.Run(r.name, func(t *testing.T) { r.run(t) })
	}
}

func (r *doctorRow) run(t *testing.T) {
	if r.slow && testing.Short() {
		t.Skip("-short: this row waits out the daemon's request timeouts (about 40 s)")
	}
	w := newDoctorWorld(t)
	r.inject(t, w)
	found, ok := w.doctor(false)
	t.Logf("doctor: %s", summarize(found))
	sev := "problem"
	if r.note {
		sev = "note"
	}
	for _, c := range r.checks {
		if !has(found, c, sev) {
			t.Fatalf("doctor does not report %s (%s): %+v", c, sev, found)
		}
	}
	if ok != r.note {
		t.Fatalf("doctor exit 0 is %v, want %v", ok, r.note)
	}
	passes := max(r.passes, 1)
	for pass := 1; pass <= passes; pass++ {
		fixed, ok := w.doctor(true)
		t.Logf("doctor --fix pass %d: %s", pass, summarize(fixed))
		if r.manual {
			if ok || !has(fixed, r.checks[0], sev) {
				t.Fatalf("doctor --fix exit 0 is %v, or lost the finding %s: %+v", ok, r.checks[0], fixed)
			}
			r.undo(t, w)
			break
		}
		if !ok {
			t.Fatalf("doctor --fix pass %d leaves problems: %+v", pass, fixed)
		}
	}
	if again, ok := w.doctor(false); !ok || slices.ContainsFunc(again, func(f finding) bool { return f.Severity == "problem" }) {
		t.Fatalf("doctor after --fix (%d passes): %+v", passes, again)
	}
	w.after(t, r.after)
}

// TestDoctorRowsCoverChecks fails when doctor can emit a check id that
// TestPrivilegedDoctor has no row for, or a row names an id doctor never
// emits. The ids are the `Check: "..."` of the findings in doctor/*.go but
// host*.go: the host's firewall and sysctls have their own table
// (TestPrivilegedDoctorHost).
func TestDoctorRowsCoverChecks(t *testing.T) {
	emitted := checkIDs(t, "../doctor")
	rowed := map[string]bool{}
	for _, r := range doctorRows {
		for _, c := range r.checks {
			rowed[c] = true
		}
	}
	// The overlay checks need a cluster (etcd, an agent, another host):
	// TestPrivilegedClusterAgentPing makes each of them fire.
	for _, c := range []string{"cluster-agent", "overlay-vxlan", "overlay-remote"} {
		rowed[c] = true
	}
	for id := range emitted {
		if !rowed[id] {
			t.Errorf("doctor emits check %q, and TestPrivilegedDoctor has no row for it", id)
		}
	}
	for id := range rowed {
		if !emitted[id] {
			t.Errorf("a row of TestPrivilegedDoctor expects check %q, which doctor never emits", id)
		}
	}
}

// checkIDs reads the string values of the Check fields of the composite
// literals in the package at dir, host*.go aside.
func checkIDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("doctor sources: %v %v", files, err)
	}
	ids := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(filepath.Base(f), "host") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "Check" {
				return true
			}
			if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				id, _ := strconv.Unquote(lit.Value)
				ids[id] = true
			}
			return true
		})
	}
	return ids
}
