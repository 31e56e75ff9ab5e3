package portmap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DialTimeout bounds a relay's connect to its target: a client whose
// container does not answer is closed after it.
const DialTimeout = 15 * time.Second

// MaxUDPFlows bounds the clients one UDP relay serves at once; a
// datagram from one more client is dropped until a flow ends.
const MaxUDPFlows = 1024

// startRelay makes the bound socket fd relay r to r.Forward and returns
// the relay, which owns fd from here on, even on error (then it is closed).
// On an unspecified host address it relays only what was sent to a
// loopback address: the rest is DNAT's, and reaching the socket means no
// DNAT rule took it.
func (h *Holder) startRelay(fd int, r Request) (io.Closer, error) {
	if !r.Forward.Addr().IsValid() || r.Forward.Port() == 0 || r.Forward.Addr().Zone() != "" {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a target address and port", r.Forward)
	}
	loopOnly := !r.HostIP.IsValid() || r.HostIP.IsUnspecified()
	if r.Proto == "udp" {
		idle := h.UDPIdle
		if idle <= 0 {
			idle = DefaultUDPIdle
		}
		return newUDPRelay(fd, r.HostIP.Is6(), r.Forward, loopOnly, idle)
	}
	return newTCPRelay(fd, r.Forward, loopOnly)
}

// fileConn turns the bound socket fd into a net type (net.FileListener,
// net.FilePacketConn) and closes fd: the result holds a duplicate.
func fileConn[T any](fd int, conv func(*os.File) (T, error)) (T, error) {
	f := os.NewFile(uintptr(fd), "held")
	defer f.Close()
	return conv(f)
}

// isLoopback reports whether a is a loopback address (an IPv4-mapped one
// too).
func isLoopback(a netip.Addr) bool { return a.Unmap().IsLoopback() }

// acceptBackoff is the next wait after a failed accept (too many open
// files, say): 5 ms doubling to 1 s, as net/http waits.
func acceptBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

// sleepCtx waits d or until ctx ends, reporting whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// closedErr reports whether err means the socket was closed under it.
func closedErr(err error) bool { return errors.Is(err, net.ErrClosed) }
