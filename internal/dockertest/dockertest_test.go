package dockertest

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestBusyboxLayer checks the image's tar without Docker or root.
func TestBusyboxLayer(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skipf("%s missing (install busybox-static): %v", BusyboxPath, err)
	}
	layer, err := busyboxLayer(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root", h.Name, h.Uid, h.Gid)
		}
		entries[h.Name] = h
	}
	if h := entries["bin/busybox"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 {
		t.Errorf("bin/busybox missing or not executable: %+v", h)
	}
	for _, applet := range []string{"sh", "ip", "sleep", "cat", "nslookup", "wget", "nc"} {
		if h := entries["bin/"+applet]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("bin/%s is not a symlink to busybox: %+v", applet, h)
		}
	}
	for _, f := range []string{"etc/passwd", "etc/group", "etc/hosts", "etc/resolv.conf", "tmp/"} {
		if entries[f] == nil {
			t.Errorf("%s missing", f)
		}
	}
}

// TestPrivilegedBusyboxImage builds the offline image, runs a --network=none
// container from it and checks that it has only lo and that its cleanup
// removes it.
func TestPrivilegedBusyboxImage(t *testing.T) {
	Require(t)
	if img := BusyboxImage(t); img != Image {
		t.Fatalf("BusyboxImage = %q, want %q", img, Image)
	}
	// A second call is served from the cache.
	BusyboxImage(t)

	name := testutil.UniqueName("pdt-")
	t.Run("run", func(t *testing.T) {
		id := RunNone(t, name)
		if len(id) != 64 {
			t.Errorf("RunNone returned id %q, want 64 hex digits", id)
		}
		if !Exists(t, name) {
			t.Fatalf("container %s does not exist after RunNone", name)
		}

		pid, hosts, resolv := Inspect(t, name)
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/ns/net"); err != nil {
			t.Errorf("container pid %d: %v", pid, err)
		}
		for _, p := range []string{hosts, resolv} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("Inspect path: %v", err)
			}
		}

		out, err := Exec(t, name, "ip", "-o", "link")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], ": lo:") {
			t.Errorf("links in a --network=none container: want only lo, got:\n%s", out)
		}

		// The bind-mounted /etc/hosts names the container; exec errors
		// carry the exit status.
		if out, err := Exec(t, name, "cat", "/etc/hosts"); err != nil || !strings.Contains(out, "localhost") {
			t.Errorf("cat /etc/hosts: %v\n%s", err, out)
		}
		if _, err := Exec(t, name, "false"); err == nil {
			t.Errorf("Exec(false) returned no error")
		}
	})
	if Exists(t, name) {
		Remove(t, name)
		t.Fatalf("container %s still exists after its test's cleanup", name)
	}
}
