package portmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// These tests relay on loopback only, in the test's own namespace, to
// servers the test starts: no root, no traffic elsewhere.

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// guard bounds a read that must end, so that a hang fails the test
// instead of stalling it; it is a bound, not a measurement.
const guard = 20 * time.Second

// upperServer serves TCP on ip: it reads a connection to its end, then
// writes back what it read in upper case and closes (a half-close test).
func upperServer(t *testing.T, ip netip.Addr) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write(bytes.ToUpper(b))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// holdRelay holds one relaying request on [::1] and returns its host side.
func holdRelay(t *testing.T, h *Holder, key, proto string, target netip.AddrPort) netip.AddrPort {
	t.Helper()
	got, err := h.Hold(key, []Request{{Proto: proto, HostIP: lo6, Port: target.Port(), Forward: target}})
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Is6() || got[0].String() != fmt.Sprintf("[::1]:%d->%d/%s", got[0].HostPort, target.Port(), proto) {
		t.Fatalf("mapping %s", got[0])
	}
	return got[0].Host()
}

// roundTrip sends msg over a new TCP connection to at, half-closes, and
// returns all it reads back.
func roundTrip(at netip.AddrPort, msg string) (string, error) {
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(at))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	c.CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestRelayTCP(t *testing.T) {
	h := NewHolder()
	t.Cleanup(h.Close)
	for _, ip := range []netip.Addr{lo6, lo4} {
		at := holdRelay(t, h, "n/"+ip.String(), "tcp", upperServer(t, ip))
		if got, err := roundTrip(at, "hello over "+ip.String()); err != nil || got != "HELLO OVER "+strings.ToUpper(ip.String()) {
			t.Errorf("relay %s to %s: %q, %v", at, ip, got, err)
		}
		// Listening keeps the port from anyone else, SO_REUSEADDR or not.
		if c, err := net.Listen("tcp6", at.String()); err == nil {
			c.Close()
			t.Errorf("%s is not held while relaying", at)
		}
	}
}

func TestRelayTCPMany(t *testing.T) {
	h := NewHolder()
	t.Cleanup(h.Close)
	at := holdRelay(t, h, "n/a", "tcp", upperServer(t, lo6))
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := strings.Repeat(fmt.Sprintf("client %d;", i), 1+i*50)
			got, err := roundTrip(at, msg)
			if err != nil || got != strings.ToUpper(msg) {
				errs <- fmt.Errorf("client %d: %d bytes back, %v", i, len(got), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// refusedPort is a loopback TCP port nothing listens on.
func refusedPort(t *testing.T, ip netip.Addr) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return ap
}

func TestRelayTargetRefuses(t *testing.T) {
	h := NewHolder()
	t.Cleanup(h.Close)
	at := holdRelay(t, h, "n/a", "tcp", refusedPort(t, lo6))
	for range 20 {
		c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(at))
		if err != nil {
			// The reset can come before connect(2) has returned.
			if !errors.Is(err, unix.ECONNRESET) {
				t.Fatal(err)
			}
			continue
		}
		c.SetDeadline(time.Now().Add(guard))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if err == nil || isTimeout(err) {
			t.Fatalf("client of a refusing target: read %v; want the connection closed", err)
		}
	}
}

func TestRelayRelease(t *testing.T) {
	h := NewHolder()
	t.Cleanup(h.Close)
	// A target that never answers keeps the relayed connection open.
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	target := ln.Addr().(*net.TCPAddr).AddrPort()
	at := holdRelay(t, h, "n/a", "tcp", target)
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(at))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	back := <-accepted
	defer back.Close()

	h.Release("n/a")
	c.SetDeadline(time.Now().Add(guard))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("client after release: %v; want the connection closed", err)
	}
	back.SetDeadline(time.Now().Add(guard))
	if _, err := back.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("target side after release: %v; want the connection closed", err)
	}
	if _, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(at)); err == nil {
		t.Errorf("%s still accepts after release", at)
	}
	// The port can be held again at once, its closed connections in
	// TIME_WAIT or not.
	again, err := h.Hold("n/b", []Request{{Proto: "tcp", HostIP: lo6, HostPort: at.Port(), HostPortEnd: at.Port(), Port: 80, Forward: target}})
	if err != nil || again[0].HostPort != at.Port() {
		t.Fatalf("hold again of %s: %v %v", at, again, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// upperUDP serves UDP on ip, answering each datagram in upper case.
func upperUDP(t *testing.T, ip netip.Addr) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(bytes.ToUpper(buf[:n]), from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// udpAsk sends msg from a connected socket (which takes replies from at
// only) until an answer comes: the first datagram may be lost, as UDP may.
func udpAsk(t *testing.T, c *net.UDPConn, msg string) string {
	t.Helper()
	buf := make([]byte, 65536)
	for deadline := time.Now().Add(guard); time.Now().Before(deadline); {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n])
		}
	}
	t.Fatalf("no answer to %q", msg)
	return ""
}

func flows(h *Holder, key string) int {
	h.mu.Lock()
	u := h.held[key][0].relay.(*udpRelay)
	h.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.flows)
}

func TestRelayUDP(t *testing.T) {
	h := &Holder{held: map[string][]heldPort{}, UDPIdle: 100 * time.Millisecond}
	t.Cleanup(h.Close)
	for _, ip := range []netip.Addr{lo6, lo4} {
		key := "n/" + ip.String()
		at := holdRelay(t, h, key, "udp", upperUDP(t, ip))
		var cs []*net.UDPConn
		for i := range 3 {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(at))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cs = append(cs, c)
			if got := udpAsk(t, c, fmt.Sprintf("ping %d", i)); got != fmt.Sprintf("PING %d", i) {
				t.Errorf("udp relay %s to %s: %q", at, ip, got)
			}
		}
		// Each client is a flow; idle flows end.
		if n := flows(h, key); n != 3 {
			t.Errorf("%d flows for 3 clients", n)
		}
		waitFor(t, "idle flows to end", func() bool { return flows(h, key) == 0 })
		if got := udpAsk(t, cs[0], "again"); got != "AGAIN" {
			t.Errorf("after idle: %q", got)
		}
		h.Release(key)
		if !bindableAt(t, "udp", at) {
			t.Errorf("%s still held after release", at)
		}
	}
}

// waitFor polls cond until it holds, failing the test after guard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(guard); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", guard, what)
		}
	}
}

// bindableAt reports whether a plain socket can bind proto at.
func bindableAt(t *testing.T, proto string, at netip.AddrPort) bool {
	t.Helper()
	if proto == "udp" {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(at))
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	ln, err := net.Listen("tcp", at.String())
	if err == nil {
		ln.Close()
	}
	return err == nil
}

func TestSentToLoopback(t *testing.T) {
	cmsg := func(level, typ int, data []byte) []byte {
		b := make([]byte, unix.CmsgSpace(len(data)))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = int32(level), int32(typ)
		h.SetLen(unix.CmsgLen(len(data)))
		copy(b[unix.CmsgLen(0):], data)
		return b
	}
	six := func(a string) []byte {
		ip := netip.MustParseAddr(a).As16()
		return append(ip[:], 1, 0, 0, 0)
	}
	four := func(a string) []byte {
		ip := netip.MustParseAddr(a).As4()
		return append([]byte{1, 0, 0, 0, 0, 0, 0, 0}, ip[:]...)
	}
	for _, c := range []struct {
		oob  []byte
		want bool
	}{
		{cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, six("::1")), true},
		{cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, six("2001:db8::1")), false},
		{cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, four("127.0.0.1")), true},
		{cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, four("192.0.2.1")), false},
		{nil, false},
	} {
		if got := sentToLoopback(c.oob); got != c.want {
			t.Errorf("sentToLoopback(% x) = %v", c.oob, got)
		}
	}
}
