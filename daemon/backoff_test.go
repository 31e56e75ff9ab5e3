package daemon

import (
	"strings"
	"testing"
	"time"
)

func TestBackoffLoopsAreLoggedOnceAndSpacedOut(t *testing.T) {
	b := newBackoff()
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	now := t0
	var lines []string
	repairs := 0
	// Drift every 100 ms for 3 minutes: a fight with another tool.
	for now.Sub(t0) < 3*time.Minute {
		if b.allow("network n", now) {
			repairs++
			if l := b.repaired("network n", now); l != "" {
				lines = append(lines, l)
			}
		}
		now = now.Add(100 * time.Millisecond)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "network n drifted again 6 times") {
		t.Fatalf("loop lines %q, want one saying 6 times", lines)
	}
	// 5 at once, then 2s, 4s, ... up to every minute: about 5+1+1+1+1+1+2 in 3 minutes.
	if repairs < 6 || repairs > 15 {
		t.Errorf("%d repairs in 3 minutes of a loop, want between 6 and 15", repairs)
	}
	if !b.looping("network n") {
		t.Error("not looping")
	}
	// Whole for a window: back to normal, said once.
	later := now.Add(2 * time.Minute)
	if l := b.whole("network n", later); !strings.Contains(l, "stayed whole") {
		t.Errorf("whole: %q", l)
	}
	if b.looping("network n") || !b.allow("network n", later) {
		t.Error("still backing off after staying whole")
	}
}

func TestBackoffOccasionalDriftIsRepairedEachTime(t *testing.T) {
	b := newBackoff()
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for i := range 20 {
		if !b.allow("endpoint e", now) {
			t.Fatalf("repair %d refused", i)
		}
		if l := b.repaired("endpoint e", now); l != "" {
			t.Fatalf("repair %d logged a loop: %s", i, l)
		}
		now = now.Add(15 * time.Second) // 4 a minute: below the limit
	}
	if !b.next(now).IsZero() {
		t.Error("a subject waits though none loops")
	}
}

func TestBackoffSubjectsAreApart(t *testing.T) {
	b := newBackoff()
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for range 10 {
		b.repaired("network a", now)
	}
	if b.allow("network a", now) {
		t.Error("network a not backed off")
	}
	if !b.allow("network b", now) {
		t.Error("network b backed off for a's loop")
	}
	if got := b.next(now); got.Sub(now) <= 0 || got.Sub(now) > maxBackoff {
		t.Errorf("next %v after now", got.Sub(now))
	}
}
