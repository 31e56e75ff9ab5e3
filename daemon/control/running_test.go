package control

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/lockfile"
)

// Running answers from the flock on RUNDIR/daemon.lock, never from the pid
// file, which a SIGKILLed daemon leaves naming a pid the kernel may hand
// to any process.
func TestRunning(t *testing.T) {
	runDir := t.TempDir()
	if pid, ok := Running(runDir); ok {
		t.Fatalf("no lock file: Running = %d, true", pid)
	}

	// What a killed daemon leaves: the lock file, free, and a pid file
	// naming a live process that is not a plumb daemon (this test).
	if err := os.WriteFile(LockPath(runDir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(PIDPath(runDir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if pid, ok := Running(runDir); ok {
		t.Fatalf("free lock, stale pid file: Running = %d, true", pid)
	}

	// Held in this process, as a daemon run by a test holds it.
	l, err := lockfile.Acquire(LockPath(runDir))
	if err != nil {
		t.Fatal(err)
	}
	if pid, ok := Running(runDir); !ok || pid != os.Getpid() {
		t.Errorf("lock held by this process: Running = %d, %v; want %d, true", pid, ok, os.Getpid())
	}
	if pid, ok := Running(t.TempDir()); ok {
		t.Errorf("another run dir: Running = %d, true", pid)
	}
	l.Unlock()
	if pid, ok := Running(runDir); ok {
		t.Fatalf("lock released: Running = %d, true", pid)
	}
}

// A lock held by another process names that process, and is free once it
// dies, however it dies.
func TestRunningOtherProcess(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock(1)")
	}
	runDir := t.TempDir()
	// flock(1) takes the lock and runs sleep; -o: sleep does not inherit
	// it, flock(1) itself holds it until it exits.
	cmd := exec.Command("flock", "-o", LockPath(runDir), "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var pid int
	var ok bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if pid, ok = Running(runDir); ok {
			break
		}
	}
	if !ok || pid != cmd.Process.Pid {
		t.Fatalf("lock held by flock(1), pid %d: Running = %d, %v", cmd.Process.Pid, pid, ok)
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, ok = Running(runDir); !ok {
			return
		}
	}
	t.Fatalf("holder killed: Running still says %d", pid)
}

func TestParseFlock(t *testing.T) {
	for _, tc := range []struct {
		line string
		pid  int
		file string
		ok   bool
	}{
		{"1: FLOCK  ADVISORY  WRITE 4242 00:1b:5678 0 EOF", 4242, "00:1b:5678", true},
		{"2: -> FLOCK  ADVISORY  WRITE 4243 00:1b:5678 0 EOF", 0, "", false}, // waiting for it
		{"3: FLOCK  ADVISORY  READ 4244 00:1b:5678 0 EOF", 0, "", false},     // shared
		{"4: POSIX  ADVISORY  WRITE 4245 fe:00:5678 0 EOF", 0, "", false},
		{"5: OFDLCK ADVISORY  WRITE -1 fe:00:5678 0 EOF", 0, "", false},
		{"", 0, "", false},
	} {
		pid, file, ok := parseFlock(tc.line)
		if pid != tc.pid || file != tc.file || ok != tc.ok {
			t.Errorf("parseFlock(%q) = %d %q %v, want %d %q %v", tc.line, pid, file, ok, tc.pid, tc.file, tc.ok)
		}
	}
}
