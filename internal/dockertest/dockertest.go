// Package dockertest holds the helpers of plumb's end-to-end tests that run
// against a REAL dockerd: no fakes, no pulled images. It builds a tiny busybox
// image offline, starts containers with `--network=none` and removes them in
// t.Cleanup, even when the test fails.
//
// The tests drive the docker CLI; plumb's own code never runs it.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/lockfile"
	"github.com/plumbnet/plumb/internal/testutil"
)

const (
	// Image is the tag of the offline busybox image BusyboxImage builds.
	Image = "plumb-test/busybox:latest"

	// BusyboxPath is the static busybox the image is made of (Debian's
	// busybox-static; lab/provision.sh installs it).
	BusyboxPath = "/bin/busybox"

	// LockPath orders image builds between test binaries running at once.
	LockPath = "/tmp/plumb-dockertest.lock"

	// recipeLabel/recipe identify how the image was built: bump recipe when
	// the contents change, and an image left by an older run is rebuilt.
	recipeLabel = "org.plumbnet.plumb.test-recipe"
	recipe      = "busybox-1"

	// cmdTimeout bounds every docker CLI call, so a wedged dockerd fails the
	// test instead of hanging it until the package timeout.
	cmdTimeout = 2 * time.Minute
)

// docker runs the docker CLI with a timeout and returns its stdout; on error
// the error carries the command and its stderr.
func docker(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Require skips t unless it runs as root with a dockerd answering `docker
// info`. When PLUMB_REQUIRE_DOCKER is set (CI sets it) a missing dockerd
// fails the test instead, like PLUMB_REQUIRE_PRIVILEGED does for root.
func Require(t testing.TB) {
	t.Helper()
	testutil.RequirePrivileged(t)
	reason := ""
	if _, err := exec.LookPath("docker"); err != nil {
		reason = "docker CLI not found in PATH (run lab/provision.sh)"
	} else if _, err := docker(nil, "info", "--format", "{{.ServerVersion}}"); err != nil {
		reason = fmt.Sprintf("dockerd not reachable (run lab/provision.sh to start it): %v", err)
	}
	if reason == "" {
		return
	}
	if os.Getenv("PLUMB_REQUIRE_DOCKER") != "" {
		t.Fatalf("docker test cannot run, and PLUMB_REQUIRE_DOCKER is set: %s", reason)
	}
	t.Skip("docker test: " + reason)
}

var (
	imageMu    sync.Mutex
	imageReady bool
)

// BusyboxImage returns Image, building it first when dockerd does not have
// it. The build is offline: BusyboxPath plus one /bin symlink per applet and
// a minimal /etc, streamed as a tar into
//
//	docker import --change 'CMD ["/bin/sh"]' - plumb-test/busybox:latest
//
// A file lock (LockPath) keeps test binaries running in parallel from
// building it twice.
//
// The image is deliberately NOT removed after the test: like a pulled image
// it is a cache (about 1 MB), reused by every later test and run. Remove it
// with `docker rmi plumb-test/busybox:latest`.
func BusyboxImage(t testing.TB) string {
	t.Helper()
	Require(t)
	image, built, err := EnsureBusyboxImage()
	if err != nil {
		t.Fatalf("building %s: %v", Image, err)
	}
	if built != 0 {
		t.Logf("built %s from %s in %v (kept as a cache; `docker rmi %s` removes it)", Image, BusyboxPath, built.Round(time.Millisecond), Image)
	}
	return image
}

// EnsureBusyboxImage is BusyboxImage without a test: for the benchmarks,
// which need the same offline image. It returns Image and how long the build
// took (0 when dockerd already had the image).
func EnsureBusyboxImage() (image string, built time.Duration, err error) {
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageReady {
		return Image, 0, nil
	}

	lock, err := lockfile.Acquire(LockPath)
	if err != nil {
		return "", 0, err
	}
	defer lock.Unlock()

	if out, err := docker(nil, "image", "inspect", "--format", "{{index .Config.Labels \""+recipeLabel+"\"}}", Image); err == nil && strings.TrimSpace(out) == recipe {
		imageReady = true
		return Image, 0, nil
	}

	start := time.Now()
	layer, err := busyboxLayer(BusyboxPath)
	if err != nil {
		return "", 0, err
	}
	if _, err := docker(bytes.NewReader(layer), "import",
		"--change", `CMD ["/bin/sh"]`,
		"--change", "LABEL "+recipeLabel+"="+recipe,
		"-", Image); err != nil {
		return "", 0, err
	}
	imageReady = true
	return Image, max(time.Since(start), time.Nanosecond), nil
}

// busyboxLayer returns the image's root filesystem as a tar stream: the
// static busybox at /bin/busybox, a symlink /bin/NAME -> busybox for each
// applet of `busybox --list`, and a minimal /etc. Every entry is owned by
// root. Docker bind-mounts /etc/hosts, /etc/resolv.conf and /etc/hostname
// over the image's; they are here, empty, so that the image also works
// without Docker's mounts.
func busyboxLayer(busybox string) ([]byte, error) {
	if err := checkStatic(busybox); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("reading busybox: %w", err)
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing applets (%s --list): %w", busybox, err)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}

	steps := []func() error{
		func() error { return dir("bin", 0o755) },
		func() error { return dir("etc", 0o755) },
		func() error { return dir("root", 0o700) },
		func() error { return dir("tmp", 0o1777) },
		func() error { return dir("proc", 0o555) },
		func() error { return dir("sys", 0o555) },
		func() error { return dir("dev", 0o755) },
		func() error { return file("bin/busybox", 0o755, bin) },
		func() error {
			return file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
		},
		func() error { return file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")) },
		func() error { return file("etc/hosts", 0o644, nil) },
		func() error { return file("etc/resolv.conf", 0o644, nil) },
		func() error { return file("etc/hostname", 0o644, nil) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("writing image tar: %w", err)
		}
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return nil, fmt.Errorf("writing image tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing image tar: %w", err)
	}
	return buf.Bytes(), nil
}

// checkStatic fails unless path is a statically linked ELF: a dynamic busybox
// (Debian's plain "busybox" package) would not run in an image without libc,
// and the container would die with a puzzling "no such file or directory".
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s (install busybox-static: lab/provision.sh): %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install busybox-static (lab/provision.sh)", path)
		}
	}
	return nil
}

// RunNone starts a detached container named name (make it unique:
// testutil.UniqueName) from the busybox image with
// no network but lo, and removes it (`docker rm -f`) in t.Cleanup, which runs
// even when the test fails. args is the command; it defaults to `sleep 3600`.
// It returns the container id.
//
// Equivalent to: `docker run -d --network=none --name NAME IMAGE ARGS...`
func RunNone(t testing.TB, name string, args ...string) (id string) {
	t.Helper()
	image := BusyboxImage(t)
	if len(args) == 0 {
		args = []string{"sleep", "3600"}
	}
	// Registered before the run, so that a run that created the container
	// and then failed (e.g. at start) leaves nothing behind either.
	t.Cleanup(func() { Remove(t, name) })
	out, err := docker(nil, append([]string{"run", "-d", "--network=none", "--name", name, image}, args...)...)
	if err != nil {
		t.Fatalf("starting container %q: %v", name, err)
	}
	return strings.TrimSpace(out)
}

// Remove removes the container name with its anonymous volumes, treating
// "already gone" as success; other errors are reported with t.Errorf.
//
// Equivalent to: `docker rm -f -v NAME`
func Remove(t testing.TB, name string) {
	t.Helper()
	if _, err := docker(nil, "rm", "-f", "-v", name); err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
		t.Errorf("removing container %q: %v", name, err)
	}
}

// Exists reports whether dockerd knows a container named name (running or
// not).
func Exists(t testing.TB, name string) bool {
	t.Helper()
	_, err := docker(nil, "container", "inspect", "--format", "{{.Id}}", name)
	if err == nil {
		return true
	}
	if strings.Contains(strings.ToLower(err.Error()), "no such") {
		return false
	}
	t.Fatalf("inspecting container %q: %v", name, err)
	return false
}

// Inspect returns the pid of the container's init process and the host files
// Docker bind-mounts at its /etc/hosts and /etc/resolv.conf.
//
// Equivalent to: `docker inspect -f '{{.State.Pid}} {{.HostsPath}} {{.ResolvConfPath}}' NAME`
func Inspect(t testing.TB, name string) (pid int, hostsPath, resolvPath string) {
	t.Helper()
	out, err := docker(nil, "inspect", "--type", "container", "-f", "{{.State.Pid}}\n{{.HostsPath}}\n{{.ResolvConfPath}}", name)
	if err != nil {
		t.Fatalf("inspecting container %q: %v", name, err)
	}
	fields := strings.Split(strings.TrimSpace(out), "\n")
	if len(fields) != 3 {
		t.Fatalf("inspecting container %q: unexpected output %q", name, out)
	}
	pid, err = strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		t.Fatalf("inspecting container %q: no running pid (%q)", name, fields[0])
	}
	return pid, fields[1], fields[2]
}

// Exec runs cmd inside the running container name and returns its combined
// output. A command that ran and exited non-zero returns its output and an
// *exec.ExitError (wrapped); it does not fail the test.
//
// Equivalent to: `docker exec NAME CMD...`
func Exec(t testing.TB, name string, cmd ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", name}, cmd...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker exec %s %s: %w", name, strings.Join(cmd, " "), err)
	}
	return string(out), nil
}
