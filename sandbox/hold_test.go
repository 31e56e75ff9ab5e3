package sandbox

import (
	"os"
	"syscall"
	"testing"
)

// TestHoldEndsOnSIGTERM: the holder's process waits until Docker's stop
// signal and then returns (exit 0), for SIGTERM and for SIGINT.
func TestHoldEndsOnSIGTERM(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		ready, done := make(chan struct{}), make(chan struct{})
		go func() { Hold(ready); close(done) }()
		<-ready
		if err := syscall.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		<-done
	}
}
