package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// appendLine returns an Update func that adds line.
func appendLine(line string) func([]byte) ([]byte, error) {
	return func(old []byte) ([]byte, error) { return append(old, line...), nil }
}

// useHostEtc points the host-file guard and the netns seed at dir.
func useHostEtc(t *testing.T, dir string) {
	old := hostEtcDir
	hostEtcDir = dir
	t.Cleanup(func() { hostEtcDir = old })
}

func TestHostFileInPlace(t *testing.T) {
	useHostEtc(t, t.TempDir())
	p := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, p, "127.0.0.1\tlocalhost\n")
	ino := inode(t, p)
	f := &hostFile{path: p}
	if err := f.Update(appendLine("10.0.0.2\tweb\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "127.0.0.1\tlocalhost\n10.0.0.2\tweb\n" {
		t.Errorf("got %q", got)
	}
	// Shrinking works in place too (write, then truncate).
	if err := f.Update(func([]byte) ([]byte, error) { return []byte("x\n"), nil }); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "x\n" {
		t.Errorf("got %q", got)
	}
	if inode(t, p) != ino {
		t.Error("the file was replaced, not rewritten in place")
	}
	if f.Created() {
		t.Error("Created")
	}
	// An error from fn is returned, and nothing is written.
	boom := errors.New("boom")
	if err := f.Update(func([]byte) ([]byte, error) { return []byte("lost"), boom }); !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Errorf("got %v", err)
	}
	if got := readFile(t, p); got != "x\n" {
		t.Errorf("fn error still wrote: %q", got)
	}
}

func TestHostFileRefusesSymlinkAndMissing(t *testing.T) {
	useHostEtc(t, t.TempDir())
	dir := t.TempDir()
	sentinel := filepath.Join(t.TempDir(), "sentinel")
	writeFile(t, sentinel, "keep\n")
	link := filepath.Join(dir, "hosts")
	if err := os.Symlink(sentinel, link); err != nil {
		t.Fatal(err)
	}
	err := (&hostFile{path: link}).Update(appendLine("evil\n"))
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink: got %v", err)
	}
	missing := filepath.Join(dir, "resolv.conf")
	if err := (&hostFile{path: missing}).Update(appendLine("x\n")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: got %v", err)
	}
	if _, err := os.Lstat(missing); err == nil {
		t.Error("a docker file was created")
	}
	if err := (&hostFile{path: "relative/hosts"}).Update(appendLine("x")); err == nil {
		t.Error("relative path accepted")
	}
	if got := readFile(t, sentinel); got != "keep\n" {
		t.Errorf("sentinel changed: %q", got)
	}
}

func TestFileRefusesHostFiles(t *testing.T) {
	etc := t.TempDir()
	useHostEtc(t, etc)
	writeFile(t, filepath.Join(etc, "hosts"), "host\n")
	writeFile(t, filepath.Join(etc, "resolv.conf"), "nameserver 1.1.1.1\n")
	// A root whose etc is a bind mount (here: the same inodes, via hard
	// links) of the host's: refused whatever the path.
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hosts", "resolv.conf"} {
		if err := os.Link(filepath.Join(etc, name), filepath.Join(root, "etc", name)); err != nil {
			t.Fatal(err)
		}
		called := false
		fn := func(b []byte) ([]byte, error) { called = true; return b, nil }
		for _, f := range []File{
			&rootFile{root: root, rel: "etc/" + name},
			&hostFile{path: filepath.Join(root, "etc", name)},
			&hostFile{path: filepath.Join(etc, name)},
		} {
			err := f.Update(fn)
			if err == nil || !strings.Contains(err.Error(), "host's own") {
				t.Errorf("%s: got %v", f.Path(), err)
			}
		}
		if called {
			t.Error("fn was called for the host's file")
		}
	}
	if readFile(t, filepath.Join(etc, "hosts")) != "host\n" {
		t.Error("host file changed")
	}
}

func TestFileRefusesNonRegular(t *testing.T) {
	useHostEtc(t, t.TempDir())
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(root, "etc", "hosts")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "etc", "resolv.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 3)
	go func() { done <- (&rootFile{root: root, rel: "etc/hosts"}).Update(appendLine("x")) }()
	go func() { done <- (&hostFile{path: fifo}).Update(appendLine("x")) }()
	go func() { done <- (&rootFile{root: root, rel: "etc/resolv.conf"}).Update(appendLine("x")) }()
	for i := 0; i < 3; i++ {
		select {
		case err := <-done:
			if err == nil {
				t.Error("a FIFO or directory was accepted")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Update blocked on a FIFO")
		}
	}
	if got := readHostname(root, fileID{}); got != "" {
		t.Errorf("hostname %q", got)
	}
}

// escapeCase is a root file system that tries to redirect etc/hosts outside
// itself. outside is a sentinel file outside the root; landing is where the
// write must land inside the root ("" when the update must fail).
type escapeCase struct {
	name    string
	build   func(t *testing.T, root, outside string)
	landing func(root, outside string) string
}

func escapeCases() []escapeCase {
	mirror := func(root, outside string) string { return filepath.Join(root, outside) }
	mkMirror := func(t *testing.T, root, outside string) { writeFile(t, filepath.Join(root, outside), "inside\n") }
	return []escapeCase{
		{"absolute symlink to a host path", func(t *testing.T, root, outside string) {
			mkMirror(t, root, outside)
			must(t, os.Symlink(outside, filepath.Join(root, "etc/hosts")))
		}, mirror},
		{"absolute symlink to a host path missing inside", func(t *testing.T, root, outside string) {
			must(t, os.Symlink(outside, filepath.Join(root, "etc/hosts")))
		}, nil},
		{"relative symlink climbing out", func(t *testing.T, root, outside string) {
			mkMirror(t, root, outside)
			must(t, os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(outside, "/"), filepath.Join(root, "etc/hosts")))
		}, mirror},
		{"etc is a symlink to /", func(t *testing.T, root, outside string) {
			must(t, os.Remove(filepath.Join(root, "etc")))
			must(t, os.Symlink("/", filepath.Join(root, "etc")))
		}, func(root, _ string) string { return filepath.Join(root, "hosts") }},
		{"etc is a symlink climbing out", func(t *testing.T, root, outside string) {
			must(t, os.Remove(filepath.Join(root, "etc")))
			must(t, os.Symlink(strings.Repeat("../", 20)+strings.TrimPrefix(filepath.Dir(outside), "/"), filepath.Join(root, "etc")))
			writeFile(t, filepath.Join(root, filepath.Dir(outside), "hosts"), "inside\n")
		}, func(root, outside string) string { return filepath.Join(root, filepath.Dir(outside), "hosts") }},
		{"etc is a symlink to the host's /etc", func(t *testing.T, root, outside string) {
			must(t, os.Remove(filepath.Join(root, "etc")))
			must(t, os.Symlink("/etc", filepath.Join(root, "etc"))) // a loop inside the root
		}, nil},
		{"symlink through /proc/self/root", func(t *testing.T, root, outside string) {
			must(t, os.Symlink("/proc/self/root"+outside, filepath.Join(root, "etc/hosts")))
		}, nil},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkEscape builds c in root (which has an etc directory), runs Update
// through f, and checks that the sentinel outside is untouched and the write
// landed where it should.
func checkEscape(t *testing.T, c escapeCase, root, outside string, f File) {
	t.Helper()
	hostBefore, _ := os.ReadFile("/etc/hosts")
	err := f.Update(appendLine("10.6.6.6\tescaped\n"))
	if got := readFile(t, outside); got != "outside\n" {
		t.Fatalf("%s: the sentinel outside the root changed: %q", c.name, got)
	}
	if hostAfter, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(hostBefore, hostAfter) {
		t.Fatalf("%s: the host's /etc/hosts changed", c.name)
	}
	if c.landing == nil {
		if err == nil {
			t.Errorf("%s: update succeeded, want an error", c.name)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if got := readFile(t, c.landing(root, outside)); !strings.HasSuffix(got, "10.6.6.6\tescaped\n") {
		t.Errorf("%s: %s = %q, want the write there", c.name, c.landing(root, outside), got)
	}
}

func TestRootFileStaysInRoot(t *testing.T) {
	useHostEtc(t, t.TempDir())
	for _, c := range escapeCases() {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			must(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
			outside := filepath.Join(t.TempDir(), "sentinel")
			writeFile(t, outside, "outside\n")
			c.build(t, root, outside)
			checkEscape(t, c, root, outside, &rootFile{root: root, rel: "etc/hosts"})
		})
	}
}

func TestRootFileCreatesAndChecksRoot(t *testing.T) {
	useHostEtc(t, t.TempDir())
	root := t.TempDir()
	must(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
	writeFile(t, filepath.Join(root, "etc/hostname"), "  web-1 \nignored\n")
	id, err := statID(root)
	must(t, err)
	f := &rootFile{root: root, rel: "etc/hosts", rootID: id}
	must(t, f.Update(appendLine("a\n")))
	if !f.Created() || readFile(t, filepath.Join(root, "etc/hosts")) != "a\n" {
		t.Error("file not created")
	}
	fi, err := os.Stat(filepath.Join(root, "etc/hosts"))
	must(t, err)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if f.Remove() != nil {
		t.Error("Remove")
	}
	if _, err := os.Stat(filepath.Join(root, "etc/hosts")); err != nil {
		t.Error("Remove deleted a process's file")
	}
	if h := readHostname(root, id); h != "web-1" {
		t.Errorf("hostname %q", h)
	}
	// Another directory under the same path: refused.
	moved := &rootFile{root: t.TempDir(), rel: "etc/hosts", rootID: id}
	if err := moved.Update(appendLine("b\n")); err == nil || !strings.Contains(err.Error(), "no longer the root") {
		t.Errorf("got %v", err)
	}
	// No etc directory: an error, nothing created.
	bare := t.TempDir()
	if err := (&rootFile{root: bare, rel: "etc/hosts"}).Update(appendLine("b\n")); err == nil {
		t.Error("created etc/")
	}
}

func TestNetnsFile(t *testing.T) {
	etc := t.TempDir()
	useHostEtc(t, etc)
	writeFile(t, filepath.Join(etc, "hosts"), "127.0.0.1\tlocalhost\n")
	dir := filepath.Join(t.TempDir(), "netns") // does not exist yet
	hosts := &netnsFile{dir: dir, name: "blue", base: "hosts"}
	resolv := &netnsFile{dir: dir, name: "blue", base: "resolv.conf"}
	if hosts.Path() != filepath.Join(dir, "blue", "hosts") {
		t.Errorf("path %s", hosts.Path())
	}

	must(t, hosts.Update(appendLine("10.0.0.2\tweb\n")))
	if !hosts.Created() {
		t.Error("Created false")
	}
	if got := readFile(t, hosts.Path()); got != "127.0.0.1\tlocalhost\n10.0.0.2\tweb\n" {
		t.Errorf("hosts %q, want the host's lines then ours", got)
	}
	// No host resolv.conf: the new file starts empty.
	must(t, resolv.Update(appendLine("nameserver 127.0.0.11\n")))
	if got := readFile(t, resolv.Path()); got != "nameserver 127.0.0.11\n" {
		t.Errorf("resolv %q", got)
	}
	for _, p := range []string{dir, filepath.Dir(hosts.Path()), hosts.Path()} {
		fi, err := os.Stat(p)
		must(t, err)
		if want := os.FileMode(0o755); fi.IsDir() && fi.Mode().Perm() != want || !fi.IsDir() && fi.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v", p, fi.Mode())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(hosts.Path()))
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}

	// A second value finds the file: not created by it.
	again := &netnsFile{dir: dir, name: "blue", base: "hosts"}
	must(t, again.Update(appendLine("x\n")))
	if again.Created() {
		t.Error("Created for an existing file")
	}

	must(t, hosts.Remove())
	if _, err := os.Stat(filepath.Dir(hosts.Path())); err != nil {
		t.Error("directory removed while resolv.conf is still in it")
	}
	must(t, resolv.Remove())
	if _, err := os.Stat(filepath.Dir(hosts.Path())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory left: %v", err)
	}
	must(t, hosts.Remove()) // already gone
	must(t, (&netnsFile{dir: filepath.Join(t.TempDir(), "none"), name: "x", base: "hosts"}).Remove())
}

func TestNetnsFileRefusesSymlinks(t *testing.T) {
	useHostEtc(t, t.TempDir())
	dir := t.TempDir()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "hosts"), "outside\n")
	// NAME is a symlink to another directory.
	must(t, os.Symlink(outside, filepath.Join(dir, "evil")))
	f := &netnsFile{dir: dir, name: "evil", base: "hosts"}
	if err := f.Update(appendLine("x\n")); err == nil {
		t.Error("followed a symlinked netns directory")
	}
	// The file is a symlink.
	must(t, os.Mkdir(filepath.Join(dir, "red"), 0o755))
	must(t, os.Symlink(filepath.Join(outside, "hosts"), filepath.Join(dir, "red", "hosts")))
	f = &netnsFile{dir: dir, name: "red", base: "hosts"}
	if err := f.Update(appendLine("x\n")); err == nil {
		t.Error("followed a symlinked hosts file")
	}
	if err := f.Remove(); err != nil {
		t.Error(err)
	}
	if got := readFile(t, filepath.Join(outside, "hosts")); got != "outside\n" {
		t.Errorf("outside file changed: %q", got)
	}
}

// Concurrent updates, each through its own open file (as separate plumb
// processes would), lose no line.
func TestUpdateConcurrent(t *testing.T) {
	useHostEtc(t, t.TempDir())
	dir := t.TempDir()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := &netnsFile{dir: dir, name: "blue", base: "hosts"}
			errs <- f.Update(func(old []byte) ([]byte, error) {
				time.Sleep(time.Millisecond) // widen the race window
				return append(old, fmt.Sprintf("line %d\n", i)...), nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got := readFile(t, filepath.Join(dir, "blue", "hosts"))
	for i := 0; i < n; i++ {
		if !strings.Contains(got, fmt.Sprintf("line %d\n", i)) {
			t.Errorf("line %d lost:\n%s", i, got)
		}
	}
}

func TestUpdateLockTimeout(t *testing.T) {
	useHostEtc(t, t.TempDir())
	old := lockTimeout
	lockTimeout = 50 * time.Millisecond
	t.Cleanup(func() { lockTimeout = old })
	p := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, p, "a\n")
	holder, err := os.Open(p)
	must(t, err)
	defer holder.Close()
	must(t, unix.Flock(int(holder.Fd()), unix.LOCK_EX))
	err = (&hostFile{path: p}).Update(appendLine("b\n"))
	if err == nil || !strings.Contains(err.Error(), "still locked") {
		t.Errorf("got %v", err)
	}
	must(t, unix.Flock(int(holder.Fd()), unix.LOCK_UN))
	must(t, (&hostFile{path: p}).Update(appendLine("b\n")))
}

func TestUpdateTooLarge(t *testing.T) {
	useHostEtc(t, t.TempDir())
	p := filepath.Join(t.TempDir(), "hosts")
	writeFile(t, p, "a\n")
	f := &hostFile{path: p}
	err := f.Update(func([]byte) ([]byte, error) { return make([]byte, maxFileSize+1), nil })
	if err == nil {
		t.Error("no error")
	}
	if readFile(t, p) != "a\n" {
		t.Error("file changed")
	}
}
