package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/docker"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want spec
	}{
		{"pid:1", spec{kind: KindPID, pid: 1}},
		{"pid:4194304", spec{kind: KindPID, pid: 4194304}},
		{"netns:blue", spec{kind: KindNetNS, name: "blue"}},
		{"netns:a.b-c_d", spec{kind: KindNetNS, name: "a.b-c_d"}},
		{"/var/run/netns/blue", spec{kind: KindNetNS, name: "blue"}},
		{"/run/netns/blue", spec{kind: KindNetNS, name: "blue"}},
		{"/run/netns/blue/", spec{kind: KindNetNS, name: "blue"}},
		{"/var/run/netns/../netns/blue", spec{kind: KindNetNS, name: "blue"}},
		{"/proc/42/ns/net", spec{kind: KindPID, pid: 42}},
		{"/proc/self/ns/net", spec{kind: KindPath, path: "/proc/self/ns/net"}},
		{"/proc/0/ns/net", spec{kind: KindPath, path: "/proc/0/ns/net"}},
		{"/var/run/docker/netns/abc", spec{kind: KindPath, path: "/var/run/docker/netns/abc"}},
		{"/var/run/netns", spec{kind: KindPath, path: "/var/run/netns"}},
		{"/var/run/netns/a/b", spec{kind: KindPath, path: "/var/run/netns/a/b"}},
		{"sinatra-web", spec{kind: KindDocker, name: "sinatra-web"}},
		{"a", spec{kind: KindDocker, name: "a"}},
		{"web.1_x-y", spec{kind: KindDocker, name: "web.1_x-y"}},
		{strings.Repeat("ab", 32), spec{kind: KindDocker, name: strings.Repeat("ab", 32)}},
	}
	for _, tt := range tests {
		got, err := parseSpec(tt.in)
		if err != nil {
			t.Errorf("parseSpec(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct {
		in      string
		mention string // the error must quote this value
	}{
		{"", "empty"},
		{"pid:", `""`},
		{"pid:abc", `"abc"`},
		{"pid:0", `"0"`},
		{"pid:-1", `"-1"`},
		{"pid:+5", `"+5"`},
		{"pid: 5", `" 5"`},
		{"pid:0x10", `"0x10"`},
		{"pid:99999999999999999999", `"99999999999999999999"`},
		{"pid:4194305", `"4194305"`},
		{"netns:", "empty"},
		{"netns:.", `"."`},
		{"netns:..", `".."`},
		{"netns:a/b", `"a/b"`},
		{"netns:" + strings.Repeat("x", 256), "longer than 255"},
		{"netns:a\nb", `"netns:a\nb"`},
		{"web\x00", `"web\x00"`},
		{"PID:5", `"PID:5"`},
		{"./relative", `"./relative"`},
		{"-rm", `"-rm"`},
		{"web/1", `"web/1"`},
		{"we b", `"we b"`},
		{"ümlaut", `"ümlaut"`},
		{strings.Repeat("a", 256), "expected pid:N"},
		{"/" + strings.Repeat("a", 5000), "longer than 4096"},
	}
	for _, tt := range tests {
		_, err := parseSpec(tt.in)
		if err == nil {
			t.Errorf("parseSpec(%q): no error", tt.in)
			continue
		}
		if !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("parseSpec(%q): %v does not wrap ErrInvalidTarget", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("parseSpec(%q): %q does not mention %s", tt.in, err, tt.mention)
		}
		// Resolve reports the same error, without a Docker call.
		if _, rerr := (&Resolver{Docker: unreachableDocker(t)}).Resolve(context.Background(), tt.in); rerr == nil || rerr.Error() != err.Error() {
			t.Errorf("Resolve(%q) = %v, want %v", tt.in, rerr, err)
		}
	}
}

// unreachableDocker is a client whose socket does not exist.
func unreachableDocker(t *testing.T) *docker.Client {
	c, err := docker.NewClient("unix://" + filepath.Join(t.TempDir(), "missing.sock"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolveNotFound(t *testing.T) {
	ctx := context.Background()
	missingPath := filepath.Join(t.TempDir(), "nothing")
	tests := []struct{ in, want string }{
		{"netns:plumb-test-no-such-ns", `netns "plumb-test-no-such-ns" not found`},
		{"/run/netns/plumb-test-no-such-ns", `netns "plumb-test-no-such-ns" not found`},
		{"pid:4194304", `process 4194304 not found`},
		{"/proc/4194304/ns/net", `process 4194304 not found`},
		{missingPath, fmt.Sprintf("netns path %q not found", missingPath)},
	}
	for _, tt := range tests {
		_, err := Resolve(ctx, tt.in)
		if !errors.Is(err, ErrNotFound) || err.Error() != tt.want {
			t.Errorf("Resolve(%q) = %v, want %q wrapping ErrNotFound", tt.in, err, tt.want)
		}
	}
}

func TestResolveNotANetns(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{regular, "/proc/self/ns/mnt"} {
		_, err := Resolve(context.Background(), p)
		if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), p) {
			t.Errorf("Resolve(%q) = %v, want an error naming the path", p, err)
		}
	}
}

// Our own process needs no privilege: it shares plumb's mount namespace, so
// it must get no files (they would be the host's).
func TestResolveOwnProcess(t *testing.T) {
	pid := os.Getpid()
	for _, s := range []string{fmt.Sprintf("pid:%d", pid), fmt.Sprintf("/proc/%d/ns/net", pid)} {
		tg, err := Resolve(context.Background(), s)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", s, err)
		}
		if tg.Kind != KindPID || tg.PID != pid || tg.NetNSPath != fmt.Sprintf("/proc/%d/ns/net", pid) || tg.Spec != s {
			t.Errorf("Resolve(%q) = %+v", s, tg)
		}
		if tg.HostsFile != nil || tg.ResolvFile != nil {
			t.Errorf("Resolve(%q): a process in plumb's mount namespace got files %v %v", s, tg.HostsFile, tg.ResolvFile)
		}
		if tg.Hostname != "" || tg.ContainerName != "" {
			t.Errorf("Resolve(%q): hostname %q name %q, want empty", s, tg.Hostname, tg.ContainerName)
		}
		if !strings.HasPrefix(tg.Key, "ns-") {
			t.Errorf("Resolve(%q): key %q", s, tg.Key)
		}
	}
	// A plain path to the same netns: same key, no files.
	self, err := Resolve(context.Background(), "/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	byPid, _ := Resolve(context.Background(), fmt.Sprintf("pid:%d", pid))
	if self.Kind != KindPath || self.HostsFile != nil || self.Key != byPid.Key {
		t.Errorf("/proc/self/ns/net = %+v, want kind path, no files, key %s", self, byPid.Key)
	}
}
