package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/network"
)

// fakeEngine is a dockerd on a unix socket that the test starts and stops:
// its /events streams the ids sent on events as start events, and its
// inspect says running for the ids in running.
type fakeEngine struct {
	t      *testing.T
	sock   string
	events chan string
	answer int  // the status of /events; 0: 200 and a stream
	hangUp bool // the stream ends as soon as it began

	mu        sync.Mutex
	srv       *http.Server
	running   map[string]bool
	inspected []string
}

func newFakeEngine(t *testing.T) *fakeEngine {
	e := &fakeEngine{t: t, sock: filepath.Join(t.TempDir(), "docker.sock"), events: make(chan string, 16), running: map[string]bool{}}
	t.Cleanup(e.stop)
	return e
}

func (e *fakeEngine) client() *docker.Client {
	c, err := docker.NewClient("unix://" + e.sock)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// start listens on the socket; stop closes it and every stream, as a
// dockerd that exits does.
func (e *fakeEngine) start() {
	l, err := net.Listen("unix", e.sock)
	if err != nil {
		e.t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(e.serve)}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
	go srv.Serve(l)
}

func (e *fakeEngine) stop() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (e *fakeEngine) serve(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/containers/"); ok {
		id = strings.TrimSuffix(id, "/json")
		e.mu.Lock()
		e.inspected = append(e.inspected, id)
		running := e.running[id]
		e.mu.Unlock()
		fmt.Fprintf(w, `{"Id":%q,"Name":"/c","State":{"Running":%v,"Pid":1}}`, id, running)
		return
	}
	if e.answer != 0 {
		w.WriteHeader(e.answer)
		return
	}
	w.(http.Flusher).Flush()
	if e.hangUp {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case id := <-e.events:
			fmt.Fprintf(w, `{"Type":"container","Action":"start","Actor":{"ID":%q}}`+"\n", id)
			w.(http.Flusher).Flush()
		}
	}
}

// followed is a dockerFollower of e under test: fast retries whose
// nominal delays it records, captured log lines, started ids on a channel.
type followed struct {
	*dockerFollower
	mu      sync.Mutex
	lines   []string
	delays  []time.Duration
	started chan string
}

func follow(t *testing.T, e *fakeEngine, records []*network.Endpoint) *followed {
	fl := &followed{started: make(chan string, 16)}
	fl.dockerFollower = newDockerFollower(e.client(), func() []*network.Endpoint { return records },
		func(id string) { fl.started <- id })
	fl.retryMin, fl.retryMax = 100*time.Millisecond, 800*time.Millisecond
	fl.after = func(d time.Duration) <-chan time.Time {
		fl.mu.Lock()
		fl.delays = append(fl.delays, d)
		fl.mu.Unlock()
		return time.After(time.Millisecond)
	}
	fl.logf = func(format string, a ...any) {
		fl.mu.Lock()
		fl.lines = append(fl.lines, fmt.Sprintf(format, a...))
		fl.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fl.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the follower did not return after its context ended")
		}
	})
	return fl
}

// waitFor polls cond for up to 10 s.
func (fl *followed) waitFor(t *testing.T, what string, cond func(lines []string, delays []time.Duration) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		fl.mu.Lock()
		ok := cond(slices.Clone(fl.lines), slices.Clone(fl.delays))
		fl.mu.Unlock()
		if ok {
			return
		}
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	t.Fatalf("waiting for %s: lines %q, delays %v", what, fl.lines, fl.delays)
}

func (fl *followed) line(i int) string {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.lines[i]
}

func (fl *followed) next(t *testing.T) string {
	t.Helper()
	select {
	case id := <-fl.started:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no started container handed on")
		return ""
	}
}

func lines(n int) func([]string, []time.Duration) bool {
	return func(l []string, _ []time.Duration) bool { return len(l) >= n }
}

func id64(c byte) string { return strings.Repeat(string(c), 64) }

// dockerEP is the record of a Docker container's endpoint whose namespace
// is alive (a file whose inode is recorded) or gone.
func dockerEP(t *testing.T, id string, alive bool) *network.Endpoint {
	ep := &network.Endpoint{ID: id, ContainerID: id, Kind: "docker", NetNS: filepath.Join(t.TempDir(), "gone")}
	if alive {
		os.WriteFile(ep.NetNS, nil, 0o644)
		var st unix.Stat_t
		unix.Stat(ep.NetNS, &st)
		ep.NetNSInode = st.Ino
	}
	return ep
}
