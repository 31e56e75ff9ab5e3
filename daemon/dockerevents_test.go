package daemon

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plumbnet/plumb/network"
)

// TestDockerFollowerReconnects: with dockerd absent the follower says so
// once and tries again with doubling waits up to the max; when dockerd
// answers it says so once, catches up (asking dockerd only about the
// containers whose recorded namespace is gone) and hands on each start
// event; when dockerd goes and comes back, one line each way, and a
// catch-up again, and a stream that lasted starts the backoff over.
func TestDockerFollowerReconnects(t *testing.T) {
	e := newFakeEngine(t)
	restarted, whole, other := id64('a'), id64('b'), id64('c')
	e.running[restarted], e.running[whole] = true, true
	fl := follow(t, e, []*network.Endpoint{dockerEP(t, restarted, false), dockerEP(t, whole, true)})

	fl.waitFor(t, "six tries", func(_ []string, d []time.Duration) bool { return len(d) >= 6 })
	fl.mu.Lock()
	ms := time.Millisecond
	if !slices.Equal(fl.delays[:6], []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 800 * ms, 800 * ms}) {
		t.Errorf("waits while dockerd is absent: %v", fl.delays)
	}
	if len(fl.lines) != 1 || !strings.Contains(fl.lines[0], "not following docker's container events") {
		t.Errorf("lines while dockerd is absent: %q", fl.lines)
	}
	fl.mu.Unlock()

	e.start()
	if id := fl.next(t); id != restarted {
		t.Fatalf("catch-up handed on %s, want the restarted container %s", id, restarted)
	}
	fl.waitFor(t, "a following line", lines(2))
	if l := fl.line(1); !strings.Contains(l, "following docker's container events at unix://"+e.sock) {
		t.Errorf("line once dockerd answers: %q", l)
	}
	e.mu.Lock()
	if !slices.Equal(e.inspected, []string{restarted}) {
		t.Errorf("catch-up asked dockerd about %v, want only %s", e.inspected, restarted[:12])
	}
	e.mu.Unlock()
	e.events <- other
	if id := fl.next(t); id != other {
		t.Fatalf("start event handed on as %s, want %s", id, other)
	}

	time.Sleep(fl.retryMax) // the stream has lasted
	fl.mu.Lock()
	tries := len(fl.delays)
	fl.mu.Unlock()
	e.stop()
	fl.waitFor(t, "a lost line", lines(3))
	if l := fl.line(2); !strings.Contains(l, "lost docker's container events") {
		t.Errorf("line when dockerd goes: %q", l)
	}
	fl.waitFor(t, "tries after the loss", func(_ []string, d []time.Duration) bool { return len(d) >= tries+3 })
	e.start()
	if id := fl.next(t); id != restarted {
		t.Fatalf("catch-up after dockerd came back handed on %s, want %s", id, restarted)
	}
	fl.waitFor(t, "a following-again line", lines(4))
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if l := fl.lines[3]; !strings.Contains(l, "following docker's container events again") {
		t.Errorf("line when dockerd is back: %q", l)
	}
	if got := fl.delays[tries:]; got[0] != 100*ms || got[1] != 200*ms {
		t.Errorf("waits after a stream that lasted: %v, want the backoff started over", got)
	}
	if len(fl.lines) != 4 {
		t.Errorf("lines: %q", fl.lines)
	}
}

// TestDockerFollowerBacksOff: a dockerd that refuses the stream, or
// hangs up as soon as it answered, is asked again ever more rarely (no
// busy loop), and the refusals are one line.
func TestDockerFollowerBacksOff(t *testing.T) {
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 800 * ms}
	for _, tc := range []struct {
		name   string
		answer int
		hangUp bool
	}{{"refuses", http.StatusInternalServerError, false}, {"hangs up", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFakeEngine(t)
			e.answer, e.hangUp = tc.answer, tc.hangUp
			e.start()
			fl := follow(t, e, nil)
			fl.waitFor(t, "five tries", func(_ []string, d []time.Duration) bool { return len(d) >= 5 })
			fl.mu.Lock()
			defer fl.mu.Unlock()
			if !slices.Equal(fl.delays[:5], want) {
				t.Errorf("waits: %v, want %v", fl.delays[:5], want)
			}
			if tc.answer != 0 && (len(fl.lines) != 1 || !strings.Contains(fl.lines[0], "answered 500")) {
				t.Errorf("lines: %q", fl.lines)
			}
		})
	}
}

// TestStartQueue: each id once, in the order given, and a catch-up asked
// for between takes comes with the next take.
func TestStartQueue(t *testing.T) {
	q := startQueue{wake: make(chan struct{}, 1)}
	for _, id := range []string{"b", "a", "b", "c"} {
		q.add(id)
	}
	q.wantCatchUp()
	ids, up, ok := q.next(t.Context())
	if !slices.Equal(ids, []string{"b", "a", "c"}) || !up || !ok {
		t.Fatalf("next = %v %v %v", ids, up, ok)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, ok := q.next(ctx); ok {
		t.Fatal("next with nothing queued returned work after its context ended")
	}
}
