package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner times processes. Their stdout and stderr go to one log file, which
// is handed to the child as a plain descriptor: no pipe, no copying
// goroutine, so the wall time is fork to exit and nothing else.
type Runner struct {
	Log   string   // path of the output file, rewritten by every run
	Env   []string // extra environment, appended to os.Environ()
	Netns string   // path of the netns to start the processes in; "": this process's
}

// Run runs argv with stdin read from the file stdin ("" for /dev/null),
// and returns its timing. A non-zero exit is an error carrying the tail of
// the command's output.
func (r *Runner) Run(stdin string, env []string, argv ...string) (Sample, error) {
	out, err := os.Create(r.Log)
	if err != nil {
		return Sample{}, err
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(append(os.Environ(), r.Env...), env...)
	if stdin != "" {
		in, err := os.Open(stdin)
		if err != nil {
			return Sample{}, err
		}
		defer in.Close()
		cmd.Stdin = in
	}

	var t0 time.Time
	if r.Netns != "" {
		t0, err = startIn(r.Netns, cmd)
	} else {
		t0 = time.Now()
		err = cmd.Start()
	}
	if err == nil {
		err = cmd.Wait()
	}
	wall := time.Since(t0)

	s := Sample{Wall: wall}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if err != nil {
		b, _ := os.ReadFile(r.Log)
		return s, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, tail(b, 600))
	}
	return s, nil
}

// Output returns what the last run printed.
func (r *Runner) Output() string {
	b, _ := os.ReadFile(r.Log)
	return string(b)
}

// tail returns the last n bytes of b, trimmed, on one line.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")
}

// sh runs a command untimed and returns its combined output; for setup,
// cleanup and metadata.
func sh(argv ...string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, tail(out, 400))
	}
	return string(out), nil
}

// stdout runs a command untimed and returns its standard output alone.
func stdout(argv ...string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	return string(out), err
}
