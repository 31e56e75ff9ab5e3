package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestOneprocInitFirst checks that package oneproc's init runs before the
// initialisers that allocate: GOMAXPROCS(1) is cheap only then (see its doc).
// It reads GODEBUG=inittrace=1 of this test binary, which links the same
// packages as plumb.
func TestOneprocInitFirst(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("running %s: %v: %s", os.Args[0], err, stderr.String())
	}
	// "init net/http @3.3 ms, 0.035 ms clock, 4712 bytes, 49 allocs"
	before, seen := 0, false
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "init" {
			continue
		}
		if f[1] == "github.com/plumbnet/plumb/cmd/plumb/internal/oneproc" {
			seen = true
			break
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("unexpected inittrace line %q", sc.Text())
		}
		before += n
	}
	if !seen {
		t.Fatalf("no init of oneproc in the inittrace:\n%s", stderr.String())
	}
	if before > 2<<10 {
		t.Errorf("initialisers allocated %d bytes before oneproc's: it no longer runs first (does it import more than runtime?)", before)
	}
}

func TestGOMAXPROCS(t *testing.T) {
	if got := runtime.GOMAXPROCS(0); got != 1 && os.Getenv("GOMAXPROCS") == "" {
		t.Errorf("one-shot GOMAXPROCS = %d, want 1 (set by oneproc)", got)
	}
	t.Cleanup(func() { runtime.GOMAXPROCS(1) })
	t.Setenv("GOMAXPROCS", "3")
	defaultGOMAXPROCS()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("long-running GOMAXPROCS with $GOMAXPROCS=3: %d, want 3", got)
	}
	t.Setenv("GOMAXPROCS", "")
	defaultGOMAXPROCS()
	if got := runtime.GOMAXPROCS(0); got < 1 || got > runtime.NumCPU() {
		t.Errorf("long-running default GOMAXPROCS = %d, want 1..%d", got, runtime.NumCPU())
	}
}
