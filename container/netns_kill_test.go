package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/plumbnet/plumb/internal/atomicfile"
	"github.com/plumbnet/plumb/internal/testutil"
)

// writerPrefix is runChild's argument that makes the child a plumb writer
// of NetnsEtcDir/NAME/hosts (see runNetnsWriter); stagedPrefix one that
// writes as on a file system without unnamed files.
const (
	writerPrefix = "netns-writer:"
	stagedPrefix = "netns-staged-writer:"
)

// runNetnsWriter creates NetnsEtcDir/NAME/hosts (through the staging
// directory when staged) and stops where a kill hurts most, with the new
// file written but not yet in place: it says "ready" there and waits for
// stdin to close (it is killed first).
func runNetnsWriter(name string, staged bool) int {
	if staged {
		createUnnamed = func(int, string, os.FileMode) (*atomicfile.Unnamed, error) {
			return nil, errors.ErrUnsupported
		}
	}
	testHookLink = func() {
		os.Stdout.WriteString("ready\n")
		buf := make([]byte, 1)
		os.Stdin.Read(buf)
	}
	f := &netnsFile{dir: NetnsEtcDir, name: name, base: "hosts"}
	if err := f.Update(appendLine("10.0.0.2\tweb\n")); err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		return 1
	}
	return 0
}

// ipNetnsExecClean fails t unless `ip netns exec NAME true` succeeds and
// says nothing: it binds every file of /etc/netns/NAME over /etc, and
// complains ("Bind ... failed") of any that /etc does not have.
func ipNetnsExecClean(t *testing.T, name string) {
	t.Helper()
	if out, err := testutil.InNS(name, "true"); err != nil || out != "" {
		t.Errorf("ip netns exec %s true: %v\n%s", name, err, out)
	}
}

// netnsEtcFor removes /etc/netns/NAME at cleanup, and /etc/netns if the
// test made it.
func netnsEtcFor(t *testing.T, name string) string {
	if NetnsEtcDir != "/etc/netns" {
		t.Fatalf("NetnsEtcDir = %s", NetnsEtcDir)
	}
	if _, err := os.Stat(NetnsEtcDir); errors.Is(err, os.ErrNotExist) {
		t.Cleanup(func() { _ = os.Remove(NetnsEtcDir) }) // only if empty: ours
	}
	dir := filepath.Join(NetnsEtcDir, name)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// A plumb killed while it creates /etc/netns/NAME/hosts leaves nothing that
// `ip netns exec NAME` trips on, whether the file system has unnamed files
// or not.
func TestPrivilegedNetnsKilledWriter(t *testing.T) {
	t.Run("unnamed", func(t *testing.T) { killWriter(t, writerPrefix) })
	t.Run("staged", func(t *testing.T) {
		stage := filepath.Join(NetnsEtcDir, stagingDir)
		_, topErr := os.Stat(NetnsEtcDir)
		if _, err := os.Stat(stage); errors.Is(err, os.ErrNotExist) {
			// The killed writer's staging file stays (harmless) until it
			// is a minute old: remove it with the directory.
			t.Cleanup(func() {
				_ = os.RemoveAll(stage)
				if errors.Is(topErr, os.ErrNotExist) {
					_ = os.Remove(NetnsEtcDir)
				}
			})
		}
		killWriter(t, stagedPrefix)
		if len(names(t, stage)) == 0 {
			t.Error("the staged writer left no file in the staging directory: was it staged?")
		}
	})
}

func killWriter(t *testing.T, prefix string) {
	name := testutil.NewNetNS(t)
	dir := netnsEtcFor(t, name)
	pid, stop := startChild(t, prefix+name, 0)
	// SIGKILL where the child said ready (before stop closes its stdin,
	// which would let it go on), then reap it.
	must(t, syscall.Kill(pid, syscall.SIGKILL))
	stop()
	for _, n := range names(t, dir) {
		if n != "hosts" && n != "resolv.conf" {
			t.Errorf("the killed writer left %s", filepath.Join(dir, n))
		}
	}
	ipNetnsExecClean(t, name)
	// And the next writer completes the file.
	f := &netnsFile{dir: NetnsEtcDir, name: name, base: "hosts"}
	must(t, f.Update(appendLine("10.0.0.3\tdb\n")))
	if out, err := testutil.InNS(name, "cat", "/etc/hosts"); err != nil || !strings.HasSuffix(out, "10.0.0.3\tdb\n") {
		t.Errorf("ip netns exec %s cat /etc/hosts: %v\n%s", name, err, out)
	}
}
