package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/network"
)

const sbID = "0990b79055bf948628959b62b348f75f7584fb9f36b4c756ed16a2be1067fcf0"

// fakeDocker answers inspect of one container with labels, and counts every
// request that would change something.
type fakeDocker struct {
	labels  map[string]string // nil: no such container
	changes atomic.Int32
}

func (f *fakeDocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		f.changes.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"message":"unexpected"}`)
		return
	}
	if f.labels == nil {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"No such container"}`)
		return
	}
	fmt.Fprintf(w, `{"Id":%q,"Name":"/web","State":{"Running":true,"Pid":1},"Config":{"Hostname":"web","Labels":{`, sbID)
	first := true
	for k, v := range f.labels {
		if !first {
			io.WriteString(w, ",")
		}
		first = false
		fmt.Fprintf(w, "%q:%q", k, v)
	}
	io.WriteString(w, "}}}")
}

// sandboxManager is a network.Manager over a temp state dir holding network
// "n" (config only, at the path network's doc gives), talking to f.
func sandboxManager(t *testing.T, f *fakeDocker) *network.Manager {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	dc, err := docker.NewClient("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	m := network.NewManager(t.TempDir())
	m.Docker = dc
	dir := filepath.Join(m.StateDir, "networks", "n")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := `{"name":"n","id":"` + strings.Repeat("a", 64) + `","subnet":"10.9.0.0/24","gateway":"10.9.0.1","mtu":1500}`
	if err := os.WriteFile(filepath.Join(dir, "network.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get("n"); err != nil {
		t.Fatalf("the test's network: %v", err)
	}
	return m
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"nginx", "sinatra-web-1", "a1", "web.app_2", strings.Repeat("a", 63)} {
		if !validName(ok) {
			t.Errorf("validName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a", "-web", "web-", "web.", "we b", "web/1", "ü1", strings.Repeat("a", 64), "/web"} {
		if validName(bad) {
			t.Errorf("validName(%q) = true", bad)
		}
	}
}

func TestCreateSandboxRefusesBeforeTouchingDocker(t *testing.T) {
	f := &fakeDocker{}
	m := sandboxManager(t, f)
	ctx := context.Background()
	cases := []struct {
		name string
		o    network.AttachOptions
		is   error
	}{
		{"bad/name", network.AttachOptions{Network: "n"}, network.ErrInvalid},
		{"web", network.AttachOptions{Network: "nope"}, network.ErrNotFound},
		{"web", network.AttachOptions{Network: "n", IP: netip.MustParseAddr("10.8.0.2")}, network.ErrInvalid},
		{"web", network.AttachOptions{Network: "n", Aliases: []string{"-x"}}, network.ErrInvalid},
	}
	for _, c := range cases {
		if _, _, err := Create(ctx, m, c.name, c.o); !errors.Is(err, c.is) {
			t.Errorf("Create(%q, %+v) = %v, want %v", c.name, c.o, err, c.is)
		}
	}
	if n := f.changes.Load(); n != 0 {
		t.Errorf("%d changing docker calls for refused creates", n)
	}
}

func TestSandboxLeavesOtherContainersAlone(t *testing.T) {
	ctx := context.Background()
	// An ordinary container of that name.
	f := &fakeDocker{labels: map[string]string{"maintainer": "someone"}}
	m := sandboxManager(t, f)
	if _, _, err := Create(ctx, m, "web", network.AttachOptions{Network: "n"}); !errors.Is(err, network.ErrExists) || !strings.Contains(err.Error(), "not a plumb sandbox") {
		t.Errorf("create over a plain container: %v", err)
	}
	if _, _, err := Remove(ctx, m, "web"); !errors.Is(err, network.ErrExists) {
		t.Errorf("rm of a plain container: %v", err)
	}
	// Another state directory's holder.
	f.labels = map[string]string{Label: "/somewhere/else"}
	if _, _, err := Create(ctx, m, "web", network.AttachOptions{Network: "n"}); err == nil || !strings.Contains(err.Error(), "/somewhere/else") {
		t.Errorf("create over another state dir's sandbox: %v", err)
	}
	if _, _, err := Remove(ctx, m, "web"); err == nil || !strings.Contains(err.Error(), "/somewhere/else") {
		t.Errorf("rm of another state dir's sandbox: %v", err)
	}
	if n := f.changes.Load(); n != 0 {
		t.Errorf("%d changing docker calls on containers plumb does not own", n)
	}
}

func TestRemoveSandboxThatIsGone(t *testing.T) {
	f := &fakeDocker{}
	m := sandboxManager(t, f)
	eps, removed, err := Remove(context.Background(), m, "web")
	if err != nil || removed || len(eps) != 0 {
		t.Errorf("rm of a missing sandbox = %v, %v, %v; want nothing to do", eps, removed, err)
	}
}

func TestHolderLayer(t *testing.T) {
	bin := []byte("\x7fELF-not-really")
	layer, err := holderLayer(bin)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(layer))
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := seen[h.Name]; dup {
			t.Errorf("%s twice: docker import refuses duplicates", h.Name)
		}
		seen[h.Name] = h
		if h.Name == "plumb" {
			b, _ := io.ReadAll(tr)
			if !bytes.Equal(b, bin) || h.Mode != 0o755 {
				t.Errorf("plumb: mode %o, %d bytes", h.Mode, len(b))
			}
		}
		if h.Uid != 0 || h.Gid != 0 || strings.HasPrefix(h.Name, "/") || strings.Contains(h.Name, "..") {
			t.Errorf("entry %q uid %d gid %d", h.Name, h.Uid, h.Gid)
		}
	}
	for _, want := range []string{"plumb", "etc/hosts", "etc/resolv.conf", "etc/hostname", "etc/passwd", "proc/", "tmp/"} {
		if seen[want] == nil {
			t.Errorf("no %s in the holder layer", want)
		}
	}
}

func TestCheckStatic(t *testing.T) {
	// The test binary itself: static or not depending on cgo; either way
	// checkStatic must say so without panicking.
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Skip(err)
	}
	_ = checkStatic(self)
	for _, garbage := range [][]byte{nil, []byte("#!/bin/sh\n"), []byte("\x7fELF\x02\x01\x01")} {
		if err := checkStatic(garbage); err == nil {
			t.Errorf("checkStatic(%q) = nil", garbage)
		}
	}
	if sh, err := os.ReadFile("/bin/sh"); err == nil {
		if err := checkStatic(sh); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
			t.Errorf("checkStatic(/bin/sh) = %v, want dynamically linked", err)
		}
	}
}
