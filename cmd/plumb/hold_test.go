package main

import (
	"strings"
	"testing"
)

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
