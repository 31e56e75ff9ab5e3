package control

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbnet/plumb/portmap"
)

// fakeDaemon serves the control protocol on a socket in a temp dir and
// records every request.
type fakeDaemon struct {
	dir    string
	cancel context.CancelFunc
	mu     sync.Mutex
	got    []Request
	reply  func(Request) Reply
}

func startFake(t *testing.T, reply func(Request) Reply) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{dir: t.TempDir(), reply: reply}
	d.serve(t)
	return d
}

func (d *fakeDaemon) serve(t *testing.T) {
	ln, err := net.Listen("unix", SocketPath(d.dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.cancel = func() { cancel(); <-done }
	t.Cleanup(d.cancel)
	go func() { defer close(done); Serve(ctx, ln, d.handle) }()
}

func (d *fakeDaemon) handle(r Request) Reply {
	{
		d.mu.Lock()
		d.got = append(d.got, r)
		d.mu.Unlock()
		if d.reply != nil {
			return d.reply(r)
		}
		return Reply{}
	}
}

func (d *fakeDaemon) requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Request(nil), d.got...)
}

func TestEveryMessage(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	held := []portmap.Mapping{{Proto: "tcp", HostIP: lo, HostPort: 8080, Port: 80}}
	recs := []Record{{Network: "n", Name: "web", IP: "10.0.0.2", Endpoint: "e1"}}
	d := startFake(t, func(r Request) Reply {
		switch r.Op {
		case OpHold:
			return Reply{Ports: held}
		case OpRecords:
			return Reply{Records: recs}
		}
		return Reply{}
	})
	c := NewClient(d.dir, nil)
	t.Cleanup(func() { c.Close() })
	reqs := []portmap.Request{{Proto: "tcp", HostIP: lo, HostPort: 8080, HostPortEnd: 8080, Port: 80}}
	if err := c.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := c.Up("n", "e1"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Hold("n", "e1", reqs); err != nil || !reflect.DeepEqual(got, held) {
		t.Fatalf("Hold = %v, %v", got, err)
	}
	if err := c.Release("n", "e1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Down("n", "e1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Reap(Reap{Name: "pgone7", Index: 7, NetNS: 42}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Records("n"); err != nil || !reflect.DeepEqual(got, recs) {
		t.Fatalf("Records = %v, %v", got, err)
	}
	want := []Request{
		{Op: OpPing},
		{Op: OpUp, Network: "n", Endpoint: "e1"},
		{Op: OpHold, Network: "n", Endpoint: "e1", Ports: reqs},
		{Op: OpRelease, Network: "n", Endpoint: "e1"},
		{Op: OpDown, Network: "n", Endpoint: "e1"},
		{Op: OpReap, Reap: &Reap{Name: "pgone7", Index: 7, NetNS: 42}},
		{Op: OpSync},
		{Op: OpRecords, Network: "n"},
	}
	if got := d.requests(); !reflect.DeepEqual(got, want) {
		t.Fatalf("daemon saw\n%+v\nwant\n%+v", got, want)
	}
}

func TestReplyErrors(t *testing.T) {
	d := startFake(t, func(r Request) Reply {
		if r.Op == OpHold {
			return Reply{Error: "publishing 0.0.0.0:80/tcp: port is already in use", Code: CodeInUse}
		}
		return Reply{Error: "no such network"}
	})
	c := NewClient(d.dir, nil)
	t.Cleanup(func() { c.Close() })
	_, err := c.Hold("n", "e", nil)
	if !errors.Is(err, portmap.ErrInUse) || err.Error() != "publishing 0.0.0.0:80/tcp: port is already in use" {
		t.Fatalf("Hold of a taken port: %v", err)
	}
	var re *ReplyError
	if err := c.Up("n", "e"); !errors.As(err, &re) || errors.Is(err, portmap.ErrInUse) || !strings.Contains(err.Error(), "no such network") {
		t.Fatalf("Up refused: %v", err)
	}
}

func TestMalformedRequest(t *testing.T) {
	d := startFake(t, nil)
	conn, err := net.Dial("unix", SocketPath(d.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("{not json\n"))
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, _ := conn.Read(buf)
	if !strings.Contains(string(buf[:n]), "bad request") {
		t.Fatalf("reply to a malformed request: %q", buf[:n])
	}
	if len(d.requests()) != 0 {
		t.Fatal("a malformed request reached the handler")
	}
}

func TestDaemonNotRunning(t *testing.T) {
	c := NewClient(t.TempDir(), nil)
	if err := c.Ping(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Ping with no daemon: %v", err)
	}
	if err := c.Up("n", "e"); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Up with no daemon and no starter: %v", err)
	}
	if _, err := c.Records(""); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Records with no daemon: %v", err)
	}
	if err := c.Reap(Reap{Name: "pgone1", Index: 1}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Reap with no daemon: %v", err)
	}
	// Nothing to forget or let go: success.
	if err := errors.Join(c.Down("n", "e"), c.Release("n", "e"), c.Sync()); err != nil {
		t.Fatalf("Down/Release/Sync with no daemon: %v", err)
	}
}

func TestStartIsCalledOnlyWhenAllowed(t *testing.T) {
	dir := t.TempDir()
	var d *fakeDaemon
	starts := 0
	c := NewClient(dir, func() error {
		starts++
		d = &fakeDaemon{dir: dir}
		d.serve(t)
		return nil
	})
	t.Cleanup(func() { c.Close() })
	if err := c.Down("n", "e"); err != nil || starts != 0 {
		t.Fatalf("Down started the daemon (%d) or failed: %v", starts, err)
	}
	if err := c.Up("n", "e"); err != nil || starts != 1 {
		t.Fatalf("Up: starts %d, %v", starts, err)
	}
	if got := d.requests(); len(got) != 1 || got[0].Op != OpUp {
		t.Fatalf("started daemon saw %+v", got)
	}
}

func TestDaemonThatDoesNotAnswer(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("unix", SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // accepts, never answers
		}
	}()
	c := NewClient(dir, nil)
	c.timeout = 100 * time.Millisecond
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("Ping of a silent daemon: %v", err)
	}
}

func TestClientRedialsARestartedDaemon(t *testing.T) {
	d := startFake(t, nil)
	c := NewClient(d.dir, nil)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(); err != nil {
		t.Fatal(err)
	}
	// The daemon restarts: the old connection is dead, a new one answers.
	d.cancel()
	d.serve(t)
	if err := c.Ping(); err != nil {
		t.Fatalf("Ping after a daemon restart: %v", err)
	}
}

func TestRunDir(t *testing.T) {
	for _, c := range []struct{ state, run, want string }{
		{"", "", DefaultRunDir},
		{DefaultStateDir, "", DefaultRunDir},
		{DefaultStateDir + "/", "", DefaultRunDir},
		{"/tmp/s", "", filepath.Join("/tmp/s", "run")},
		{"/tmp/s", "/tmp/r", "/tmp/r"},
	} {
		if got := RunDir(c.state, c.run); got != c.want {
			t.Errorf("RunDir(%q, %q) = %q, want %q", c.state, c.run, got, c.want)
		}
	}
}

func TestWithoutCNIEnv(t *testing.T) {
	got := withoutCNIEnv([]string{"PATH=/bin", "CNI_COMMAND=ADD", "CNI_PATH=/opt", "HOME=/root"})
	if want := []string{"PATH=/bin", "HOME=/root"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("withoutCNIEnv = %v", got)
	}
}
