package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestHoldEndsOnSIGTERM: the holder's process waits until Docker's stop
// signal and then returns (exit 0), for SIGTERM and for SIGINT.
func TestHoldEndsOnSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		ready, done := make(chan struct{}), make(chan struct{})
		go func() { hold(ready); close(done) }()
		<-ready
		if err := syscall.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		<-done
	}
}

func TestHoldIsHiddenAndNeedsNoRoot(t *testing.T) {
	code, out, _ := runCLI(t, 1000, "--help")
	if code != exitOK {
		t.Fatalf("--help: exit %d", code)
	}
	if strings.Contains(out, "\n  hold ") {
		t.Errorf("hold shows in --help:\n%s", out)
	}
	if !strings.Contains(out, "\n  sandbox ") {
		t.Errorf("sandbox missing from --help:\n%s", out)
	}
	a := &app{euid: func() int { return 1000 }}
	c := newRoot(a)
	cmd, _, err := c.Find([]string{"hold"})
	if err != nil || cmd.Annotations["root"] != "no" {
		t.Errorf("hold: %v, annotations %v", err, cmd.Annotations)
	}
}
