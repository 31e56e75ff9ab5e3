package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// netnsPath is where `ip netns add NAME` pins a namespace.
func netnsPath(name string) string { return filepath.Join("/var/run/netns", name) }

// startInNetns starts cmd with every thread of the new process inside the
// named netns. The fork happens on a thread locked to this goroutine that has
// setns(2)'d into the namespace; a child inherits the namespace of the thread
// that forked it. The thread is never unlocked, so the runtime destroys it
// when the goroutine returns, and no other goroutine ever runs in the
// namespace. Equivalent to: `nsenter --net=/var/run/netns/NAME CMD`.
func startInNetns(name string, cmd *exec.Cmd) error {
	_, err := startIn(netnsPath(name), cmd)
	return err
}

// startIn is startInNetns for a netns file (/var/run/netns/NAME,
// /proc/PID/ns/net). It returns the instant just before the fork, so that a
// timing leaves out the thread's setns.
func startIn(path string, cmd *exec.Cmd) (t0 time.Time, err error) {
	err = onThreadIn(path, func() error {
		t0 = time.Now()
		return cmd.Start()
	})
	return t0, err
}

// onThreadIn runs fn on a fresh OS thread that has setns(2)'d into the netns
// file path, and returns its error. The thread is never unlocked, so the
// runtime destroys it when fn returns, and no other goroutine ever runs in
// the namespace; what fn made there (a child process, a socket) stays there.
func onThreadIn(path string, fn func() error) error {
	c := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // deliberately never unlocked
		f, err := os.Open(path)
		if err != nil {
			c <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			c <- fmt.Errorf("setns into %s: %w", path, err)
			return
		}
		c <- fn()
	}()
	return <-c
}

// checkInNetns verifies that every thread of this process is in the named
// netns, comparing namespace inodes: the worker refuses to run otherwise, so
// nothing it starts can reach the real host's links or firewall.
func checkInNetns(name string) error {
	var want unix.Stat_t
	if err := unix.Stat(netnsPath(name), &want); err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("listing this process's threads: %v", err)
	}
	for _, t := range tasks {
		var st unix.Stat_t
		if err := unix.Stat(t, &st); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		if st.Ino != want.Ino || st.Dev != want.Dev {
			return fmt.Errorf("thread %s is not in netns %s", t, name)
		}
	}
	return nil
}
