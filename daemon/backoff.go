package daemon

import (
	"fmt"
	"time"
)

// Repairs of one subject (a network, an endpoint) within a minute past
// which the reconciler backs off: the drift comes back as fast as it is
// repaired, so something else is fighting plumb.
const (
	loopWindow   = time.Minute
	loopLimit    = 5
	maxBackoff   = time.Minute
	firstBackoff = 2 * time.Second
)

// backoff counts each subject's repairs and spaces them out once they
// loop: past loopLimit repairs in loopWindow, the next is allowed only
// after a delay that doubles with each repair, up to maxBackoff, until the
// subject stays whole for a window. It says so in one log line when the
// loop starts, and one when it ends. Not safe for concurrent use:
// the reconciler's one goroutine owns it.
type backoff struct {
	subjects map[string]*repairs
}

type repairs struct {
	at      []time.Time // repairs within the last window
	until   time.Time   // no repair before
	delay   time.Duration
	told    bool // the loop was logged
	skipped int  // repairs due but not made while backing off
}

func newBackoff() *backoff { return &backoff{subjects: map[string]*repairs{}} }

// allow reports whether subject may be repaired at now.
func (b *backoff) allow(subject string, now time.Time) bool {
	r := b.subjects[subject]
	if r == nil || !now.Before(r.until) {
		return true
	}
	r.skipped++
	return false
}

// repaired counts a repair of subject at now. It returns the line to log
// when the subject has just started looping, else "".
func (b *backoff) repaired(subject string, now time.Time) string {
	r := b.subjects[subject]
	if r == nil {
		r = &repairs{}
		b.subjects[subject] = r
	}
	r.at = append(recent(r.at, now), now)
	if len(r.at) <= loopLimit && !r.told {
		return ""
	}
	if r.delay == 0 {
		r.delay = firstBackoff
	} else {
		r.delay = min(2*r.delay, maxBackoff)
	}
	r.until = now.Add(r.delay)
	if r.told {
		return ""
	}
	r.told = true
	return fmt.Sprintf("%s drifted again %d times within %s: something else changes it; repairing it at most every %s, up to every %s",
		subject, len(r.at), loopWindow, r.delay, maxBackoff)
}

// looping reports whether subject is being backed off (its repairs are
// logged once, not each).
func (b *backoff) looping(subject string) bool {
	r := b.subjects[subject]
	return r != nil && r.told
}

// whole notes that subject was found whole at now: a loop ends once the
// subject stayed whole for a window, and the line to log says so.
func (b *backoff) whole(subject string, now time.Time) string {
	r := b.subjects[subject]
	if r == nil {
		return ""
	}
	if len(r.at) > 0 && now.Sub(r.at[len(r.at)-1]) < loopWindow {
		return ""
	}
	delete(b.subjects, subject)
	if !r.told {
		return ""
	}
	return fmt.Sprintf("%s has stayed whole for %s: repairs back to normal (%d repairs deferred while backing off)", subject, loopWindow, r.skipped)
}

// next is the earliest time a subject backed off may be repaired again;
// zero when none waits.
func (b *backoff) next(now time.Time) time.Time {
	var t time.Time
	for _, r := range b.subjects {
		if r.until.After(now) && (t.IsZero() || r.until.Before(t)) {
			t = r.until
		}
	}
	return t
}

// recent is at without the times older than a window before now.
func recent(at []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(at) && now.Sub(at[i]) >= loopWindow {
		i++
	}
	return at[i:]
}
