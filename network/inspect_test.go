package network

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestTargetEndpointsLiveOnly: a target restarted into a new namespace
// keeps its key (a Docker container keeps its id), and its old record is
// not reported as its endpoint; re-attached, it is.
func TestTargetEndpointsLiveOnly(t *testing.T) {
	w := attachWorld(t)
	o := attachOpts()
	o.Links = nil
	if _, _, err := w.m.Attach(context.Background(), "web", o); err != nil {
		t.Fatal(err)
	}
	if _, eps, err := w.m.TargetEndpoints(context.Background(), "web"); err != nil || len(eps) != 1 {
		t.Fatalf("attached: %d endpoints, %v; want 1", len(eps), err)
	}
	old := w.targets["web"]
	restarted := w.target("web", 0)
	restarted.Key = old.Key
	_, eps, err := w.m.TargetEndpoints(context.Background(), "web")
	if err != nil || len(eps) != 0 {
		t.Fatalf("restarted: %d endpoints, %v; want none (the record is the old namespace's)", len(eps), err)
	}
}

// TestListErrorsOneLine: two damaged networks give one error on one line,
// in which errors.Is still finds each.
func TestListErrorsOneLine(t *testing.T) {
	e1, e2 := errors.New("network a: bad"), errors.New("network b:\nbad")
	err := joinLine([]error{e1, e2})
	if strings.Contains(err.Error(), "\n") || !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Errorf("joinLine = %q", err)
	}
	if joinLine(nil) != nil {
		t.Error("joinLine(nil) is not nil")
	}
}
