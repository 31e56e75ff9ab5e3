package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// newHoldCmd is `plumb hold`, the process of a sandbox's holder container
// (Kubernetes' pause): it keeps the container, and so its network
// namespace, alive until SIGTERM or SIGINT, then exits 0. As PID 1 it also
// reaps any orphan that ends up its child. Hidden: users never run it.
func newHoldCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:         "hold",
		Short:       "Wait for SIGTERM or SIGINT (the process of a sandbox holder)",
		Hidden:      true,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"root": "no"},
		RunE: func(cmd *cobra.Command, args []string) error {
			hold(nil)
			return nil
		},
	}
}

// hold blocks until SIGTERM or SIGINT arrives, reaping children on SIGCHLD.
// ready, when not nil, is closed once the signals are being caught.
func hold(ready chan<- struct{}) {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	defer signal.Stop(sig)
	if ready != nil {
		close(ready)
	}
	for s := range sig {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
