package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/docker"
)

const fakeID = "4f66ad9a0b2e4f5bd1c0a7f8d7f5e1b0c8e3a9d2f6b4c1e0a5d8f7b3c2e1d0a9"

// fakeEngine serves GET /containers/{ref}/json from containers (keyed by
// name and by id) on a unix socket in a temp dir, like dockerd. The client's
// own tests (package docker) have its twin; this one feeds the resolver.
type fakeEngine struct {
	containers map[string]map[string]any
}

func (e *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
func startFakeEngine(t *testing.T, h http.Handler) *docker.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := docker.NewClient("unix://" + sock)
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

func TestDockerResolveRunning(t *testing.T) {
	e := &fakeEngine{containers: map[string]map[string]any{
		"sinatra-web": inspectJSON(true, 4242),
		fakeID[:12]:   inspectJSON(true, 4242),
	}}
	r := &Resolver{Docker: startFakeEngine(t, e)}
	for _, ref := range []string{"sinatra-web", fakeID[:12]} {
		tg, err := r.Resolve(context.Background(), ref)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", ref, err)
		}
		want := Target{
			Spec: ref, Kind: KindDocker, NetNSPath: "/proc/4242/ns/net", PID: 4242,
			ContainerID: fakeID, ContainerName: "sinatra-web", Hostname: "4f66ad9a0b2e", Key: fakeID,
		}
		got := *tg
		got.HostsFile, got.ResolvFile = nil, nil
		if got != want {
			t.Errorf("Resolve(%q) =\n%+v, want\n%+v", ref, got, want)
		}
		if tg.HostsFile == nil || tg.HostsFile.Path() != "/var/lib/docker/containers/"+fakeID+"/hosts" {
			t.Errorf("HostsFile = %v", tg.HostsFile)
		}
		if tg.ResolvFile == nil || tg.ResolvFile.Path() != "/var/lib/docker/containers/"+fakeID+"/resolv.conf" {
			t.Errorf("ResolvFile = %v", tg.ResolvFile)
		}
		if tg.HostsFile.Created() || tg.HostsFile.Remove() != nil {
			t.Error("docker files: Created or Remove did something")
		}
	}
}

func TestDockerSandboxKeyFallback(t *testing.T) {
	e := &fakeEngine{containers: map[string]map[string]any{"web": inspectJSON(true, 0)}}
	tg, err := (&Resolver{Docker: startFakeEngine(t, e)}).Resolve(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if tg.NetNSPath != "/var/run/docker/netns/0123456789ab" || tg.PID != 0 {
		t.Errorf("NetNSPath %q PID %d", tg.NetNSPath, tg.PID)
	}
}

func TestDockerNotFound(t *testing.T) {
	e := &fakeEngine{containers: map[string]map[string]any{}}
	_, err := (&Resolver{Docker: startFakeEngine(t, e)}).Resolve(context.Background(), "foo")
	if !errors.Is(err, ErrNotFound) || err.Error() != `container "foo" not found` {
		t.Errorf("got %v, want container \"foo\" not found", err)
	}
}

func TestDockerNotRunning(t *testing.T) {
	e := &fakeEngine{containers: map[string]map[string]any{"foo": inspectJSON(false, 0)}}
	_, err := (&Resolver{Docker: startFakeEngine(t, e)}).Resolve(context.Background(), "foo")
	if !errors.Is(err, ErrNotRunning) || err.Error() != `container "foo" is not running` {
		t.Errorf("got %v, want container \"foo\" is not running", err)
	}
}

func TestDockerSocketMissing(t *testing.T) {
	c := unreachableDocker(t)
	_, err := (&Resolver{Docker: c}).Resolve(context.Background(), "foo")
	if !errors.Is(err, ErrDockerUnavailable) {
		t.Fatalf("got %v, want ErrDockerUnavailable", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "cannot reach the Docker daemon at "+c.Host()+": ") ||
		strings.Contains(msg, "\n") || strings.Contains(msg, "http://") || !strings.Contains(msg, "no such file") {
		t.Errorf("message %q: want one line naming the socket and the cause", msg)
	}
}

func TestDockerMissingRunningPidAndSandbox(t *testing.T) {
	j := inspectJSON(true, 0)
	j["NetworkSettings"] = map[string]any{}
	e := &fakeEngine{containers: map[string]map[string]any{"web": j}}
	_, err := (&Resolver{Docker: startFakeEngine(t, e)}).Resolve(context.Background(), "web")
	if err == nil || !strings.Contains(err.Error(), `"web"`) {
		t.Errorf("got %v", err)
	}
}
