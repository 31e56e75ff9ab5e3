package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const fakeID = "4f66ad9a0b2e4f5bd1c0a7f8d7f5e1b0c8e3a9d2f6b4c1e0a5d8f7b3c2e1d0a9"

// fakeEngine serves GET /containers/{ref}/json from containers (keyed by
// name and by id) on a unix socket in a temp dir, like dockerd.
type fakeEngine struct {
	containers map[string]map[string]any
	requests   atomic.Int32
	lastPath   atomic.Value
}

func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	e.lastPath.Store(r.URL.EscapedPath())
	ref, ok := strings.CutPrefix(r.URL.Path, "/containers/")
	ref, ok2 := strings.CutSuffix(ref, "/json")
	if r.Method != http.MethodGet || !ok || !ok2 {
		http.Error(w, `{"message":"page not found"}`, http.StatusNotFound)
		return
	}
	c, found := e.containers[ref]
	w.Header().Set("Content-Type", "application/json")
	if !found {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"message":"No such container: %s"}`, ref)
		return
	}
	_ = json.NewEncoder(w).Encode(c)
}

// startFakeEngine serves h on a fresh socket and returns a client for it.
func startFakeEngine(t *testing.T, h http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := NewClient("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func inspectJSON(running bool, pid int) map[string]any {
	return map[string]any{
		"Id":             fakeID,
		"Name":           "/sinatra-web",
		"State":          map[string]any{"Running": running, "Pid": pid, "Status": "running"},
		"HostsPath":      "/var/lib/docker/containers/" + fakeID + "/hosts",
		"ResolvConfPath": "/var/lib/docker/containers/" + fakeID + "/resolv.conf",
		"Config":         map[string]any{"Hostname": "4f66ad9a0b2e", "Image": "sinatra:app"},
		"NetworkSettings": map[string]any{
			"SandboxKey": "/var/run/docker/netns/0123456789ab",
			"Networks":   map[string]any{},
		},
	}
}

func TestDockerConnectionRefused(t *testing.T) {
	// A socket file nobody listens on: connect gives ECONNREFUSED.
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	c, err := NewClient("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.InspectContainer(context.Background(), "foo")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("got %v, want ErrUnavailable: connection refused", err)
	}
}

func TestDockerErrorAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"ambiguous", 400, `{"message":"multiple IDs found with provided prefix: 4f"}`, "docker daemon answered 400: multiple IDs found with provided prefix: 4f"},
		{"server error", 500, "boom\n\nbang", "docker daemon answered 500: boom bang"},
		{"garbage", 200, "{not json", "decoding answer"},
		{"bad id", 200, `{"Id":"../../etc","State":{"Running":true,"Pid":1}}`, "invalid id"},
		{"empty", 200, `{}`, "invalid id"},
		{"null", 200, `null`, "invalid id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startFakeEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			_, err := c.InspectContainer(context.Background(), "4f")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"4f"`) {
				t.Errorf("got %v, want it to contain %q and the name", err, tt.want)
			}
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
				t.Errorf("%v: wrong class", err)
			}
		})
	}
}

func TestDockerContextCanceled(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	c := startFakeEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.InspectContainer(ctx, "web")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
		t.Errorf("got %v, want the context's deadline", err)
	}
}

func TestClientReused(t *testing.T) {
	e := &fakeEngine{containers: map[string]map[string]any{"web": inspectJSON(true, 1)}}
	c := startFakeEngine(t, e)
	for i := 0; i < 3; i++ {
		if _, err := c.InspectContainer(context.Background(), "web"); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if p := e.lastPath.Load(); p != "/containers/web/json" {
		t.Errorf("path %v", p)
	}
}

func TestNewClientHosts(t *testing.T) {
	for _, h := range []string{"", "unix:///var/run/docker.sock", "unix:///run/user/1000/docker.sock"} {
		c, err := NewClient(h)
		if err != nil {
			t.Errorf("NewClient(%q): %v", h, err)
			continue
		}
		if h == "" && c.Host() != DefaultHost {
			t.Errorf("default host %q", c.Host())
		}
	}
	for _, h := range []string{"tcp://127.0.0.1:2375", "ssh://me@host", "npipe:////./pipe/docker_engine", "unix://", "unix://relative.sock", "/var/run/docker.sock"} {
		_, err := NewClient(h)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", h)) {
			t.Errorf("NewClient(%q) = %v, want an error naming it", h, err)
		}
	}
}

func TestDockerHostFromEnv(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://10.0.0.1:2376")
	if _, err := NewClientFromEnv(); err == nil || !strings.Contains(err.Error(), "only unix://") {
		t.Errorf("got %v", err)
	}
	sock := filepath.Join(t.TempDir(), "d.sock")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	c, err := NewClientFromEnv()
	if err != nil || c.Host() != "unix://"+sock {
		t.Fatalf("got %v, %v", c, err)
	}
	_, err = c.InspectContainer(context.Background(), "x")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), sock) {
		t.Errorf("got %v", err)
	}
	_ = os.Remove(sock)
}

// unreachableClient is a client whose socket does not exist.
func unreachableClient(t *testing.T) *Client {
	c, err := NewClient("unix://" + filepath.Join(t.TempDir(), "missing.sock"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInspectContainer(t *testing.T) {
	e := &fakeEngine{containers: map[string]map[string]any{"sinatra-web": inspectJSON(true, 4242)}}
	c := startFakeEngine(t, e)
	info, err := c.InspectContainer(context.Background(), "sinatra-web")
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != fakeID || info.Name != "sinatra-web" || !info.Running || info.Pid != 4242 ||
		info.Hostname != "4f66ad9a0b2e" || info.Image != "sinatra:app" ||
		info.HostsPath != "/var/lib/docker/containers/"+fakeID+"/hosts" ||
		info.ResolvConfPath != "/var/lib/docker/containers/"+fakeID+"/resolv.conf" ||
		info.SandboxKey != "/var/run/docker/netns/0123456789ab" {
		t.Errorf("InspectContainer = %+v", info)
	}
	_, err = c.InspectContainer(context.Background(), "foo")
	if !errors.Is(err, ErrNotFound) || err.Error() != `container "foo" not found` {
		t.Errorf("got %v, want container \"foo\" not found", err)
	}
	_, err = unreachableClient(t).InspectContainer(context.Background(), "foo")
	if !errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "cannot reach the Docker daemon at unix://") {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
}

func TestDefaultIsShared(t *testing.T) {
	a, errA := Default()
	b, errB := Default()
	if a != b || errA != errB {
		t.Errorf("Default() = %p, %v then %p, %v: want one client", a, errA, b, errB)
	}
}
