package control

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/lockfile"
)

// A daemon started while another one is starting loses the race for the
// lock and exits at once; Start then waits for the winner's socket, which
// answers only once the winner has rebuilt what it serves, for as long as
// the winner holds the lock.
func TestStartWaitsForTheDaemonThatWon(t *testing.T) {
	runDir := t.TempDir()
	// The winner: it holds the lock, and listens a while later.
	l, err := lockfile.Acquire(LockPath(runDir))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	listening := make(chan net.Listener, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		ln, err := net.Listen("unix", SocketPath(runDir))
		if err != nil {
			t.Error(err)
		}
		listening <- ln
	}()
	// The loser: a daemon that exits at once, as one that finds the lock
	// taken does.
	exe := filepath.Join(t.TempDir(), "plumb")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = Starter{Exe: exe, StateDir: t.TempDir(), RunDir: runDir}.Start()
	if ln := <-listening; ln != nil {
		ln.Close()
	}
	if err != nil {
		t.Fatalf("Start while another daemon holds the lock and is about to listen: %v", err)
	}
}

// A daemon that exits at start while no other holds the lock is an error
// at once, not after StartTimeout.
func TestStartFailsWhenNoDaemonRuns(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "plumb")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := Starter{Exe: exe, StateDir: t.TempDir(), RunDir: t.TempDir()}.Start()
	if err == nil {
		t.Fatal("Start of a daemon that exits, with none running: no error")
	}
	if d := time.Since(start); d > StartTimeout/2 {
		t.Errorf("Start took %v to report a daemon that exited", d)
	}
}
