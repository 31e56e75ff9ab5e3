package sandbox

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Hold is the holder's process, `plumb hold` (Kubernetes' pause): it blocks
// until SIGTERM or SIGINT arrives, Docker's stop, and keeps the container,
// and so its network namespace, alive until then. As PID 1 it also reaps
// any orphan that ends up its child, on SIGCHLD. ready, when not nil, is
// closed once the signals are being caught.
func Hold(ready chan<- struct{}) {
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
