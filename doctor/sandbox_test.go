package doctor

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/sandbox"
)

// holderJSON is one container of GET /containers/json.
type holderJSON struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	State  string            `json:"State"`
	Labels map[string]string `json:"Labels"`
}

func holderID(c byte) string { return strings.Repeat(string(c), 64) }

// engine serves GET /containers/json with list on a unix socket (nil
// handler: it never answers), and returns a client of it.
func engine(t *testing.T, h http.HandlerFunc) *docker.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		// Accepts and never answers: a dockerd that hangs.
		var mu sync.Mutex
		var conns []net.Conn
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
	} else {
		srv := &http.Server{Handler: h}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	dc, err := docker.NewClient("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// sandboxDoctor is a Doctor over a temp state dir holding network n, with
// one endpoint record, of container 'a'. Its Manager has no Docker client
// yet: the test gives it one.
func sandboxDoctor(t *testing.T) *Doctor {
	t.Helper()
	m := network.NewManager(t.TempDir())
	dir := filepath.Join(m.StateDir, "networks", "n")
	if err := os.MkdirAll(filepath.Join(dir, "endpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	config := `{"name":"n","id":"` + strings.Repeat("b", 64) + `","subnet":"10.9.0.0/24","gateway":"10.9.0.1","mtu":1500}`
	rec := `{"id":"` + holderID('a') + `","network":"n","target":"attached","kind":"docker","containerId":"` + holderID('a') +
		`","ip":"10.9.0.2/24","mac":"02:42:0a:09:00:02","ifname":"eth0"}`
	for p, s := range map[string]string{"network.json": config, "endpoints/" + holderID('a') + ".json": rec} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if eps, err := m.Endpoints("n"); err != nil || len(eps) != 1 {
		t.Fatalf("the test's record: %v, %v", eps, err)
	}
	return &Doctor{M: m}
}

// TestSandboxDetachedNote: doctor notes each holder of its own state
// directory that no endpoint names, running or stopped, with the commands
// that finish or remove it; not an attached holder, not another state
// directory's; and --fix leaves them alone.
func TestSandboxDetachedNote(t *testing.T) {
	d := sandboxDoctor(t)
	own := d.M.StateDir
	d.M.Docker = engine(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/containers/json" {
			t.Errorf("doctor asked dockerd %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode([]holderJSON{
			{ID: holderID('a'), Names: []string{"/attached"}, State: "running", Labels: map[string]string{sandbox.Label: own}},
			{ID: holderID('c'), Names: []string{"/cut"}, State: "running", Labels: map[string]string{sandbox.Label: own, sandbox.NetworkLabel: "n"}},
			{ID: holderID('d'), Names: []string{"/old"}, State: "created", Labels: map[string]string{sandbox.Label: own}},
			{ID: holderID('e'), Names: []string{"/theirs"}, State: "running", Labels: map[string]string{sandbox.Label: "/elsewhere"}},
		})
	})
	fs := checkSandboxes(context.Background(), d)
	if len(fs) != 2 {
		t.Fatalf("findings: %+v, want the notes on cut and old", fs)
	}
	cut, old := fs[0], fs[1]
	for _, c := range []struct {
		f                 *Finding
		name, what, netOf string
	}{{cut, "cut", "runs", "n"}, {old, "old", "stopped", "NETWORK"}} {
		f := c.f
		if f.Check != "sandbox-detached" || f.Severity != Note || f.Owned || f.repair != nil ||
			!strings.HasPrefix(f.Subject, "sandbox "+c.name+" (container ") || !strings.Contains(f.What, c.what) ||
			!strings.Contains(f.Fix, "`plumb sandbox create "+c.name+" --net "+c.netOf+"`") ||
			!strings.Contains(f.Fix, "`plumb sandbox rm "+c.name+"`") {
			t.Errorf("finding on %s: %+v", c.name, f)
		}
	}
	d.Fix(context.Background(), fs)
	if cut.Fixed || cut.FixError != "" {
		t.Errorf("--fix touched a note: %+v", cut)
	}
}

// TestSandboxCheckWithoutDockerd: with no dockerd (no socket) or one that
// hangs, doctor reports nothing of sandboxes, and is not held up for
// long.
func TestSandboxCheckWithoutDockerd(t *testing.T) {
	missing, err := docker.NewClient("unix://" + filepath.Join(t.TempDir(), "no.sock"))
	if err != nil {
		t.Fatal(err)
	}
	d := sandboxDoctor(t)
	d.M.Docker = missing
	start := time.Now()
	if fs := checkSandboxes(context.Background(), d); len(fs) != 0 {
		t.Errorf("no dockerd: %+v", fs)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("no dockerd: the check took %v", took)
	}

	defer func(w time.Duration) { sandboxWait = w }(sandboxWait)
	sandboxWait = 100 * time.Millisecond
	d = sandboxDoctor(t)
	d.M.Docker = engine(t, nil)
	start = time.Now()
	if fs := checkSandboxes(context.Background(), d); len(fs) != 0 {
		t.Errorf("hung dockerd: %+v", fs)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("hung dockerd: the check took %v, its bound is %v", took, sandboxWait)
	}
}

// TestSandboxCheckWaitsForRecords: while a network's records cannot be
// read, no holder is judged (its endpoint may be among them).
func TestSandboxCheckWaitsForRecords(t *testing.T) {
	var asked atomic.Bool
	d := sandboxDoctor(t)
	d.M.Docker = engine(t, func(w http.ResponseWriter, r *http.Request) {
		asked.Store(true)
		w.Write([]byte("[]"))
	})
	eps := filepath.Join(d.M.StateDir, "networks", "n", "endpoints")
	if err := os.RemoveAll(eps); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(eps, []byte("not a directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fs := checkSandboxes(context.Background(), d); len(fs) != 0 || asked.Load() {
		t.Errorf("with unreadable records: %+v (dockerd asked: %v)", fs, asked.Load())
	}
}
