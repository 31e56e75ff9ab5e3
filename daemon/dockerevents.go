package daemon

import (
	"context"
	"log"
	"slices"
	"sync"
	"time"

	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/network"
)

const (
	// While dockerd does not answer, the follower tries again after a wait
	// that doubles from dockerRetryMin up to dockerRetryMax: an absent
	// dockerd costs one failed connect to its socket every 5 s.
	dockerRetryMin = 100 * time.Millisecond
	dockerRetryMax = 5 * time.Second
	// dockerReplay is how far before each subscription dockerd is asked to
	// replay events from, so that a start as the request goes out is not
	// lost between the catch-up and the stream.
	dockerReplay = time.Second
)

// dockerFollower follows the Engine's container start events and hands
// each started container's id to started, one at a time, in the order
// dockerd sent them, on a goroutine of its own (a slow re-attach never
// holds up the stream: dockerd drops the events of a reader that lags).
// It keeps following across dockerd's absences and restarts: when the
// stream breaks it logs one line and subscribes again with backoff; once
// dockerd answers again it logs one line and catches up on what it missed
// (missed). No event is needed to notice dockerd's return.
type dockerFollower struct {
	client  *docker.Client
	records func() []*network.Endpoint // the Docker containers' endpoints
	started func(id string)

	retryMin, retryMax time.Duration
	after              func(time.Duration) <-chan time.Time // time.After
	logf               func(string, ...any)                 // log.Printf

	queue    startQueue
	said     bool // a line about following has been logged
	lost     bool // and the last one said dockerd was lost
	followed bool // dockerd has answered once
}

func newDockerFollower(c *docker.Client, records func() []*network.Endpoint, started func(id string)) *dockerFollower {
	return &dockerFollower{client: c, records: records, started: started,
		retryMin: dockerRetryMin, retryMax: dockerRetryMax, after: time.After, logf: log.Printf,
		queue: startQueue{wake: make(chan struct{}, 1)}}
}

// run follows until ctx ends, and returns once the last started call
// has returned.
func (f *dockerFollower) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.work(ctx)
	}()
	defer wg.Wait()
	delay := f.retryMin
	for {
		began := time.Now()
		connected := false
		err := f.client.ContainerEvents(ctx, docker.Follow{
			Actions: []string{"start"},
			Since:   began.Add(-dockerReplay),
			Ready: func() {
				connected = true
				f.following()
				f.queue.wantCatchUp()
			},
		}, func(e docker.Event) { f.queue.add(e.ID) })
		if ctx.Err() != nil {
			return
		}
		f.gone(err)
		// A stream that lasted starts the backoff over; one that breaks
		// as soon as it is made does not, or a dockerd that answers and
		// hangs up would be asked again ten times a second.
		if connected && time.Since(began) >= f.retryMax {
			delay = f.retryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-f.after(delay):
		}
		delay = min(2*delay, f.retryMax)
	}
}

// following logs that the events are followed, once per return of dockerd.
func (f *dockerFollower) following() {
	switch {
	case f.said && !f.lost:
		return
	case f.followed:
		f.logf("plumb daemon: following docker's container events again at %s; catching up on containers started meanwhile", f.client.Host())
	default:
		f.logf("plumb daemon: following docker's container events at %s", f.client.Host())
	}
	f.said, f.lost, f.followed = true, false, true
}

// gone logs that dockerd was lost, once until it answers again.
func (f *dockerFollower) gone(err error) {
	switch {
	case f.said && f.lost:
		return
	case f.followed:
		f.logf("plumb daemon: lost docker's container events: %v; following them again once docker answers", err)
	default:
		f.logf("plumb daemon: not following docker's container events: %v; following them once docker answers", err)
	}
	f.said, f.lost = true, true
}

// work hands the started containers to started until ctx ends; after
// each (re)connect it first catches up.
func (f *dockerFollower) work(ctx context.Context) {
	for {
		ids, catchUp, ok := f.queue.next(ctx)
		if !ok {
			return
		}
		if catchUp {
			missed := f.missed(ctx)
			ids = append(missed, slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(missed, id) })...)
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			f.started(id)
		}
	}
}

// missed lists the containers with an endpoint here whose recorded
// namespace is gone and that run now: those started while nothing
// followed the events (dockerd away or restarting, the daemon not
// running). It asks dockerd about those containers only, one inspect
// each; an endpoint whose namespace lives costs a stat.
func (f *dockerFollower) missed(ctx context.Context) []string {
	var out []string
	asked := map[string]bool{}
	for _, ep := range f.records() {
		id := ep.ContainerID
		if asked[id] || ep.Alive() {
			continue
		}
		asked[id] = true
		if info, err := f.client.InspectContainer(ctx, id); err == nil && info.Running {
			out = append(out, id)
		}
	}
	return out
}

// startQueue is the started containers not yet handed on, each once, in
// the order they started, and whether a catch-up is due.
type startQueue struct {
	mu      sync.Mutex
	ids     []string
	catchUp bool
	wake    chan struct{} // buffered, 1
}

func (q *startQueue) add(id string) {
	q.mu.Lock()
	if !slices.Contains(q.ids, id) {
		q.ids = append(q.ids, id)
	}
	q.mu.Unlock()
	q.poke()
}

func (q *startQueue) wantCatchUp() {
	q.mu.Lock()
	q.catchUp = true
	q.mu.Unlock()
	q.poke()
}

func (q *startQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next waits for work and takes all of it; ok is false once ctx ended.
func (q *startQueue) next(ctx context.Context) (ids []string, catchUp, ok bool) {
	for {
		q.mu.Lock()
		ids, catchUp = q.ids, q.catchUp
		q.ids, q.catchUp = nil, false
		q.mu.Unlock()
		if len(ids) > 0 || catchUp {
			return ids, catchUp, true
		}
		select {
		case <-ctx.Done():
			return nil, false, false
		case <-q.wake:
		}
	}
}
