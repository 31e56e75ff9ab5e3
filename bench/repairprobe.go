package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The repair section's probes: does a published port answer, does a
// gateway answer a ping. Each runs on an nsThread, a goroutine locked to
// an OS thread that has setns(2)'d into the netns the probe is made from,
// so that its socket is created there.

// nsThread runs functions on n OS threads inside a netns, as many at once.
type nsThread struct{ fns chan func() }

// newNSThread starts n threads in the netns file path ("" for this
// process's own netns). A thread is never unlocked: the runtime destroys
// it when close ends its goroutine, so that no other goroutine ever runs
// in that netns.
func newNSThread(path string, n int) (*nsThread, error) {
	t := &nsThread{fns: make(chan func())}
	errc := make(chan error, n)
	for range n {
		go t.serve(path, errc)
	}
	for range n {
		if err := <-errc; err != nil {
			close(t.fns) // the threads that did start end
			return nil, err
		}
	}
	return t, nil
}

// serve is one of t's threads.
func (t *nsThread) serve(path string, errc chan<- error) {
	runtime.LockOSThread() // deliberately never unlocked
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("setns into %s: %w", path, err)
			return
		}
	}
	errc <- nil
	for fn := range t.fns {
		fn()
	}
}

// do runs fn on one of the threads and waits for it.
func (t *nsThread) do(fn func()) {
	done := make(chan struct{})
	t.fns <- func() { fn(); close(done) }
	<-done
}

// close ends the threads.
func (t *nsThread) close() { close(t.fns) }

// probeTimeout bounds one probe: a connection and its answer, or a ping.
const probeTimeout = 100 * time.Millisecond

// httpRequest is what a probe sends; an answer starts with "HTTP/".
const httpRequest = "GET / HTTP/1.0\r\n\r\n"

// httpAnswers reports whether addr (IP:PORT), connected to from t's
// netns, answers an HTTP request within probeTimeout. A connection alone
// is not enough: docker-proxy accepts one on the host while the container
// behind it is unreachable, then closes it.
func (t *nsThread) httpAnswers(addr string) (err error) {
	t.do(func() {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, probeTimeout); err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(probeTimeout))
		if _, err = io.WriteString(c, httpRequest); err != nil {
			return
		}
		b := make([]byte, 5)
		if _, err = io.ReadFull(c, b); err == nil && string(b) != "HTTP/" {
			err = fmt.Errorf("%s answered %q, not HTTP", addr, b)
		}
	})
	return err
}

// pings reports whether dst answers an ICMP echo sent from t's netns
// within probeTimeout. Equivalent to: `ping -c 1 -W 0.1 DST` in the netns.
func (t *nsThread) pings(dst netip.Addr, seq uint16) (err error) {
	t.do(func() { err = pingOnce(dst, seq) })
	return err
}

// pingOnce sends one echo request to dst from a raw ICMP socket and waits
// for its reply.
func pingOnce(dst netip.Addr, seq uint16) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(probeTimeout / 4))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	id := uint16(os.Getpid())
	msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq), 'p', 'l', 'u', 'm', 'b'}
	binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(probeTimeout); time.Now().Before(deadline); {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		sa, ok := from.(*unix.SockaddrInet4)
		if !ok || sa.Addr != dst.As4() || n < 20 {
			continue
		}
		ihl := int(buf[0]&0x0f) * 4 // a raw socket gets the IP header too
		if n < ihl+8 {
			continue
		}
		r := buf[ihl:n]
		if r[0] == 0 && binary.BigEndian.Uint16(r[4:]) == id && binary.BigEndian.Uint16(r[6:]) == seq {
			return nil
		}
	}
	return fmt.Errorf("no echo reply from %s within %v", dst, probeTimeout)
}

// icmpChecksum is the Internet checksum of b (RFC 1071).
func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// httpServer answers every connection with "HTTP/1.0 200 OK" once it has
// read the request: the published port's listener inside a target netns.
type httpServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

// serveHTTPIn listens on 0.0.0.0:port inside the netns file path and
// serves until stop. The socket is made on a thread in that netns; the
// accepting goroutines may run anywhere.
func serveHTTPIn(path string, port int) (*httpServer, error) {
	s := &httpServer{}
	err := onThreadIn(path, func() error {
		var err error
		s.ln, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on port %d in %s: %w", port, path, err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			go answerHTTP(c)
		}
	}()
	return s, nil
}

// answerHTTP reads the request's head, then answers and closes: closing
// with the request unread would reset the connection under the answer.
func answerHTTP(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil || strings.TrimSpace(l) == "" {
			break
		}
	}
	_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
}

// stop closes the listener and waits for its accept loop.
func (s *httpServer) stop() {
	_ = s.ln.Close()
	s.wg.Wait()
}
