package container

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary a stand-in target process instead of
// running tests; see runChild.
const childEnv = "PLUMB_CONTAINER_TEST_CHILD"

func TestMain(m *testing.M) {
	if arg, ok := os.LookupEnv(childEnv); ok {
		os.Exit(runChild(arg))
	}
	os.Exit(m.Run())
}

// runChild is the body of a target process. arg is "" (stay where it is),
// "ROOT" (chroot into ROOT), "proc:ROOT" (mount a procfs at ROOT/proc,
// privately, then chroot) or "netns-[staged-]writer:NAME"
// (runNetnsWriter). It prints "ready" and lives until stdin closes, so it
// dies with the test even when the test binary is killed.
func runChild(arg string) int {
	fail := func(err error) int {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		return 1
	}
	if name, ok := strings.CutPrefix(arg, writerPrefix); ok {
		return runNetnsWriter(name, false)
	}
	if name, ok := strings.CutPrefix(arg, stagedPrefix); ok {
		return runNetnsWriter(name, true)
	}
	if root, ok := strings.CutPrefix(arg, "proc:"); ok {
		// Private first, so the mount never propagates to the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fail(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
			return fail(err)
		}
		if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", 0, ""); err != nil {
			return fail(err)
		}
		arg = root
	}
	if arg != "" {
		if err := unix.Chroot(arg); err != nil {
			return fail(err)
		}
		if err := unix.Chdir("/"); err != nil {
			return fail(err)
		}
	}
	os.Stdout.WriteString("ready\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startChild starts runChild(arg) in the namespaces of cloneflags
// (CLONE_NEWNS, CLONE_NEWNET...) and returns its pid and a func that kills it
// and waits. The kill is also registered with t.Cleanup.
func startChild(t *testing.T, arg string, cloneflags uintptr) (int, func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+arg)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneflags, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting target process: %v", err)
	}
	done := false
	stop := func() {
		if done {
			return
		}
		done = true
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("target process did not start (said %q)", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("target process did not start in 10s")
	}
	return cmd.Process.Pid, stop
}

func sleepBriefly() { time.Sleep(20 * time.Millisecond) }
