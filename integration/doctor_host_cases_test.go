package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/doctor"
)

// docCase is one host problem: how to make it, the finding it gives, and
// what --fix (or the command the finding prints) does to it.
type docCase struct {
	name   string
	setup  func(d *docHost) // targets and networks, before the problem
	inject func(d *docHost) // the problem
	check  string           // the finding expected; "" for none
	sev    string
	owned  bool
	absent []string         // checks that must not be found
	broken func(d *docHost) // what the problem breaks, checked before the repair
	fixHas string           // not owned: in the Fix
	apply  int              // not owned: run the apply-th printed command, then the finding is gone; -1: none
	after  func(d *docHost) // checked after the repair
}

// withTarget attaches a target to web publishing 8080:80, serves on it,
// and links the host to an outside namespace at 198.51.100.1/24.
func withTarget(d *docHost) {
	d.fwd = target(d.t)
	d.must("attach", "netns:"+d.fwd, "--net", "web", "-p", "8080:80")
	serve(d.t, d.fwd, 80, "c")
	d.out, _ = outside(d.t, d.host)
}

// reaches fails the test unless src reaches addr (or, with want false,
// unless it does not).
// reaches checks that src does (want) or does not reach addr. Reaching is
// polled up to a deadline, since a loaded host may drop a first SYN; not
// reaching is one dial, which itself waits out its timeout.
func reaches(d *docHost, src, addr string, want bool) {
	d.t.Helper()
	if !want {
		if tcpFrom(src, addr) != "" {
			d.t.Errorf("%s reaches %s, want it not to", src, addr)
		}
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for tcpFrom(src, addr) == "" {
		if time.Now().After(deadline) {
			d.t.Errorf("%s does not reach %s, want it to", src, addr)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPrivilegedDoctorHost(t *testing.T) {
	for _, tc := range docCases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocHost(t)
			if tc.setup != nil {
				tc.setup(d)
			}
			tc.inject(d)
			before := d.snap()
			fs := d.examine()
			if after := d.snap(); after != before {
				t.Fatalf("doctor changed the host:\n%s\nwas:\n%s", after, before)
			}
			for _, a := range tc.absent {
				if got := find(fs, a); len(got) > 0 {
					t.Errorf("unexpected %s: %+v", a, *got[0])
				}
			}
			if tc.broken != nil {
				tc.broken(d)
			}
			if tc.check != "" {
				runCase(t, d, tc, fs)
			}
			if tc.after != nil {
				tc.after(d)
			}
		})
	}
}

// runCase checks the finding, repairs, and checks that the repair changed
// nothing that is not plumb's and left what it should.
func runCase(t *testing.T, d *docHost, tc docCase, fs []*doctor.Finding) {
	got := find(fs, tc.check)
	if len(got) != 1 {
		t.Fatalf("want one %s finding, got %d; all: %q", tc.check, len(got), problems(fs))
	}
	f := got[0]
	t.Logf("[%s] %s: %s. %s. Fix: %s.", f.Severity, f.Subject, f.What, f.Means, f.Fix)
	if f.Severity != tc.sev || f.Owned != tc.owned {
		t.Errorf("%s: severity %s owned %v, want %s %v", f.Check, f.Severity, f.Owned, tc.sev, tc.owned)
	}
	foreign := d.foreign()
	d.fix(fs)
	if after := d.foreign(); after != foreign {
		t.Errorf("--fix changed what is not plumb's:\n%s\nwas:\n%s", after, foreign)
	}
	again := find(d.examine(), tc.check)
	if tc.owned {
		if !f.Fixed || f.FixError != "" || len(again) > 0 {
			t.Fatalf("%s after --fix: fixed %v, error %q, still found %d", f.Check, f.Fixed, f.FixError, len(again))
		}
		return
	}
	if f.Fixed || len(again) != 1 {
		t.Fatalf("%s is not plumb's: fixed %v, found again %d", f.Check, f.Fixed, len(again))
	}
	if !strings.Contains(f.Fix, tc.fixHas) {
		t.Errorf("%s: Fix %q lacks %q", f.Check, f.Fix, tc.fixHas)
	}
	if tc.apply >= 0 {
		d.shell(printed(t, f, tc.apply))
		if again := find(d.examine(), tc.check); len(again) > 0 {
			t.Errorf("%s after `%s`: still %+v", f.Check, printed(t, f, tc.apply), *again[0])
		}
	}
}
