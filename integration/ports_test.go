package integration

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/dockertest"
	"github.com/plumbnet/plumb/internal/testutil"
)

// serve starts, inside namespace ns, a TCP and a UDP server on port that
// answer every connection or datagram with "hello from ID". They stop at
// cleanup.
func serve(t *testing.T, ns string, port int, id string) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	err := inNS(ns, func() error {
		var err error
		if ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port)); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("servers in %s: %v", ns, err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	msg := []byte("hello from " + id)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write(msg)
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(msg, from)
		}
	}()
}

// udpFrom sends one datagram from namespace src to addr over conn (made in
// src when nil) and returns the answer, or "" after a second.
func udpFrom(t *testing.T, src, addr string) string {
	t.Helper()
	var got string
	err := inNS(src, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		got = udpAsk(c)
		return nil
	})
	if err != nil {
		t.Fatalf("udp from %s to %s: %v", src, addr, err)
	}
	return got
}

// udpAsk sends one datagram on c and returns the answer, or "" after a
// second (three tries).
func udpAsk(c net.Conn) string {
	buf := make([]byte, 512)
	for i := 0; i < 3; i++ {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			return string(buf[:n])
		}
	}
	return ""
}

// tcpFrom is dialFrom returning "" on failure.
func tcpFrom(src, addr string) string {
	got, err := dialFrom(src, addr)
	if err != nil {
		return ""
	}
	return got
}

// TestPrivilegedPorts publishes ports of a namespace and reaches them, over
// TCP and UDP, from every place issue 4 names: the host itself on
// localhost and on its own addresses, another host, another container of
// the network and the owner itself (hairpin). A loopback-only port is
// reachable from the host only. A taken port is refused and changes
// nothing; detach leaves iptables-save as it was; a restarted daemon takes
// its ports back; a UDP port re-published for another container reaches
// the new one at once (the conntrack flush). On each firewall backend.
func TestPrivilegedPorts(t *testing.T) {
	eachBackend(t, func(t *testing.T, fw string) { portsScenario(t, newHostOn(t, fw)) })
}

func portsScenario(t *testing.T, h *host) {
	mustSh(t, h, "ip", "link", "set", "lo", "up")
	outsideNS, _ := outside(t, h)
	const hostIP = "198.51.100.1" // h's address on the outside link
	h.must("network", "create", "pub", "--subnet", "10.231.20.0/24")
	h.assertBackend()
	a, b := target(t), target(t)
	serve(t, a, 80, "a")
	h.must("attach", "netns:"+b, "--net", "pub")
	before := h.snapshot()

	out := h.must("attach", "netns:"+a, "--net", "pub", "-p", "8080:80", "-p", "8080:80/udp", "-p", "127.0.0.1:9090:80", "-p", "80")
	if !strings.Contains(out, "0.0.0.0:8080->80/tcp") || !strings.Contains(out, "127.0.0.1:9090->80/tcp") {
		t.Fatalf("attach output lacks the mappings:\n%s", out)
	}
	port := h.must("port", "netns:"+a)
	for _, want := range []string{"80/tcp -> 0.0.0.0:8080", "80/udp -> 0.0.0.0:8080", "80/tcp -> 127.0.0.1:9090"} {
		if !strings.Contains(port, want) {
			t.Errorf("plumb port lacks %q:\n%s", want, port)
		}
	}
	// "-p 80": a free host port, which `plumb port` names.
	free := ""
	for _, l := range strings.Split(port, "\n") {
		if strings.HasPrefix(l, "80/tcp -> 0.0.0.0:") && !strings.HasSuffix(l, ":8080") {
			free = strings.TrimPrefix(l, "80/tcp -> 0.0.0.0:")
		}
	}
	if free == "" {
		t.Fatalf("no free host port chosen for -p 80:\n%s", port)
	}
	gw := "10.231.20.1"

	reach := []struct {
		from, addr, why string
	}{
		{h.ns, "127.0.0.1:8080", "host, localhost"},
		{h.ns, hostIP + ":8080", "host, its own address"},
		{h.ns, gw + ":8080", "host, the bridge address"},
		{h.ns, "127.0.0.1:9090", "host, loopback-only port"},
		{h.ns, "127.0.0.1:" + free, "host, free port"},
		{outsideNS, hostIP + ":8080", "another host"},
		{b, gw + ":8080", "another container (hairpin)"},
		{b, hostIP + ":8080", "another container, host's other address"},
		{a, gw + ":8080", "the owner itself (hairpin)"},
	}
	for _, r := range reach {
		if got := tcpFrom(r.from, r.addr); got != "hello from a" {
			t.Errorf("tcp %s: %s from %s: got %q", r.why, r.addr, r.from, got)
		}
		if strings.HasSuffix(r.addr, ":8080") {
			if got := udpFrom(t, r.from, r.addr); got != "hello from a" {
				t.Errorf("udp %s: %s from %s: got %q", r.why, r.addr, r.from, got)
			}
		}
	}
	for _, r := range []struct{ from, addr, why string }{
		{outsideNS, hostIP + ":9090", "another host"},
		{b, gw + ":9090", "another container"},
		{b, hostIP + ":9090", "another container, host's address"},
	} {
		if got := tcpFrom(r.from, r.addr); got != "" {
			t.Errorf("loopback-only port reached by %s (%s): %q", r.why, r.addr, got)
		}
	}

	// The port is really held: a host process cannot take it, and neither
	// can another attach, which changes nothing.
	if err := inNS(h.ns, func() error {
		ln, err := net.Listen("tcp4", ":8080")
		if err == nil {
			ln.Close()
		}
		return err
	}); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a host process could bind the published port 8080: %v", err)
	}
	c := target(t)
	held := h.snapshot()
	if out, err := h.run("attach", "netns:"+c, "--net", "pub", "-p", "8080:80"); err == nil || !strings.Contains(out, "8080") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
		t.Fatalf("second mapping of 8080: want one line naming the port and a failure, got %v:\n%s", err, out)
	}
	// A port a host process already listens on is refused too.
	var busy net.Listener
	if err := inNS(h.ns, func() (err error) { busy, err = net.Listen("tcp4", "127.0.0.1:0"); return }); err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	if out, err := h.run("attach", "netns:"+c, "--net", "pub", "-p", busyPort+":80"); err == nil || !strings.Contains(out, busyPort) {
		t.Fatalf("mapping a port a host process listens on: %v\n%s", err, out)
	}
	if after := h.snapshot(); after != held {
		t.Fatalf("refused attaches changed the host:\n--- before\n%s\n--- after\n%s", held, after)
	}
	if out := h.must("ps"); strings.Contains(out, "netns:"+c) {
		t.Fatalf("refused attach left an endpoint:\n%s", out)
	}

	// kill -9 of the daemon: a new one takes every port back.
	h.killAndRestartDaemon()
	waitFor(t, func() bool {
		err := inNS(h.ns, func() error {
			ln, err := net.Listen("tcp4", ":8080")
			if err == nil {
				ln.Close()
			}
			return err
		})
		return errors.Is(err, syscall.EADDRINUSE)
	}, "port 8080 held again after a daemon restart")

	// A UDP flow from another host keeps one conntrack entry; after the
	// port moves to another container, the same flow reaches the new one
	// at once.
	var flow net.Conn
	if err := inNS(outsideNS, func() (err error) { flow, err = net.Dial("udp4", hostIP+":8080"); return }); err != nil {
		t.Fatal(err)
	}
	defer flow.Close()
	if got := udpAsk(flow); got != "hello from a" {
		t.Fatalf("udp flow before the move: %q", got)
	}
	h.must("detach", "netns:"+a)
	if after := h.snapshot(); after != before {
		t.Fatalf("detach did not restore the host:\n--- before\n%s\n--- after\n%s", before, after)
	}
	serve(t, c, 80, "c")
	h.must("attach", "netns:"+c, "--net", "pub", "-p", "8080:80/udp")
	if got := udpAsk(flow); got != "hello from c" {
		t.Fatalf("udp flow after the port moved to another container: %q, want hello from c", got)
	}
	h.must("detach", "netns:"+c)
	h.must("network", "rm", "--force", "pub")
	h.assertNoPlumbFirewall()
}

// TestPrivilegedPortsDocker publishes a real `--network=none` container's
// port beside a running dockerd that publishes a port of its own (`docker
// run -p`), curls both on localhost, and checks that plumb neither touches
// Docker's rules nor can take Docker's port; on each firewall backend.
func TestPrivilegedPortsDocker(t *testing.T) {
	dockertest.Require(t)
	eachBackend(t, func(t *testing.T, fw string) { portsDockerScenario(t, rootHostOn(t, fw)) })
}

func portsDockerScenario(t *testing.T, h *host) {
	image := dockertest.BusyboxImage(t)
	web := func(id string) []string {
		return []string{"sh", "-c", "echo hello-from-" + id + " > /tmp/index.html && exec httpd -f -p 80 -h /tmp"}
	}

	// Docker's own published port, made before the "before" snapshot.
	dockerPort := freePort(t)
	theirs := testutil.UniqueName("pd")
	t.Cleanup(func() { dockertest.Remove(t, theirs) })
	if out, err := dockerCLI(append([]string{"run", "-d", "--name", theirs, "-p", "127.0.0.1:" + dockerPort + ":80", image}, web("docker")...)...); err != nil {
		t.Fatalf("docker run -p: %v\n%s", err, out)
	}
	curl := func(port, want string) {
		t.Helper()
		var got string
		waitFor(t, func() bool {
			out, err := h.sh("curl", "-s", "-m", "2", "http://localhost:"+port+"/")
			got = out
			return err == nil && strings.Contains(out, want)
		}, "curl http://localhost:"+port+" answering "+want+" (last: "+got+")")
	}
	curl(dockerPort, "hello-from-docker")
	before := h.snapshot()

	name := testutil.UniqueName("pw")
	dockertest.RunNone(t, name, web("plumb")...)
	h.must("network", "create", "pubdock", "--subnet", "10.231.21.0/24")
	h.assertBackend()
	port := freePort(t)
	// Docker's port is taken: refused, one line.
	if out, err := h.run("attach", name, "--net", "pubdock", "-p", "127.0.0.1:"+dockerPort+":80"); err == nil || !strings.Contains(out, dockerPort) {
		t.Fatalf("plumb took docker's port %s: %v\n%s", dockerPort, err, out)
	}
	h.must("attach", name, "--net", "pubdock", "-p", port+":80")
	curl(port, "hello-from-plumb")
	curl(dockerPort, "hello-from-docker")
	if ps := h.must("ps"); !strings.Contains(ps, "0.0.0.0:"+port+"->80/tcp") {
		t.Fatalf("ps lacks the mapping:\n%s", ps)
	}
	h.must("detach", name)
	h.must("network", "rm", "pubdock")
	if after := h.snapshot(); after != before {
		t.Fatalf("host changed:\n--- before\n%s\n--- after\n%s", before, after)
	}
	curl(dockerPort, "hello-from-docker")
}

// freePort returns a TCP port free on the host's loopback right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
