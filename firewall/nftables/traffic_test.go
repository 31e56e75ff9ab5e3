package nftables

import (
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/testutil"
)

// listen serves "hello from WHO" on addr in namespace name until cleanup.
func listen(t *testing.T, name, addr, who string) {
	t.Helper()
	var ln net.Listener
	inNS(t, name, func() (err error) { ln, err = net.Listen("tcp4", addr); return })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello from " + who))
			c.Close()
		}
	}()
}

// dialFrom connects from namespace name to addr and returns what the server
// said, "" when it cannot connect within a second.
func dialFrom(t *testing.T, name, addr string) string {
	t.Helper()
	var got string
	inNS(t, name, func() error {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err != nil {
			return nil
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		got = string(buf[:n])
		return nil
	})
	return got
}

// TestPrivilegedGuardDropsLoopbackTraffic builds, in throwaway namespaces
// and without any iptables rule, what defect 3 needs: a host with a bridge
// whose route_localnet is on, a container behind it that routes
// 127.0.0.0/8 via the gateway, and a service on the host's 127.0.0.1. The
// container reaches the service without the guard and not with it, while
// the host still reaches a port DNATed from its own 127.0.0.1 to the
// container, whose answers come back to 127.0.0.1 through the guard.
func TestPrivilegedGuardDropsLoopbackTraffic(t *testing.T) {
	testutil.RequirePrivileged(t)
	host, ctr := testutil.NewNetNS(t), testutil.NewNetNS(t)
	for _, args := range [][]string{
		{"ip", "-n", host, "link", "add", "br-g", "type", "bridge"},
		{"ip", "-n", host, "addr", "add", "10.231.51.1/24", "dev", "br-g"},
		{"ip", "-n", host, "link", "add", "vh0", "master", "br-g", "type", "veth", "peer", "name", "eth0", "netns", ctr},
		{"ip", "-n", host, "link", "set", "br-g", "up"},
		{"ip", "-n", host, "link", "set", "vh0", "up"},
		{"ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.conf.br-g.route_localnet=1"},
		{"ip", "-n", ctr, "addr", "add", "10.231.51.2/24", "dev", "eth0"},
		{"ip", "-n", ctr, "link", "set", "eth0", "up"},
		{"ip", "-n", ctr, "addr", "del", "127.0.0.1/8", "dev", "lo"},
		{"ip", "-n", ctr, "route", "add", "127.0.0.0/8", "via", "10.231.51.1"},
		{"ip", "netns", "exec", ctr, "sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1"},
		{"ip", "netns", "exec", host, "iptables", "-t", "nat", "-A", "OUTPUT", "-d", "127.0.0.1/32", "-p", "tcp",
			"--dport", "8081", "-j", "DNAT", "--to-destination", "10.231.51.2:80"},
	} {
		testutil.Run(t, args[0], args[1:]...)
	}
	listen(t, host, "127.0.0.1:9999", "the host's loopback")
	listen(t, ctr, "10.231.51.2:80", "the container")
	if got := dialFrom(t, ctr, "127.0.0.1:9999"); got != "hello from the host's loopback" {
		t.Fatalf("without the guard the container should reach 127.0.0.1:9999 (else this test proves nothing): %q", got)
	}
	g := newGuard(t)
	inNS(t, host, func() error { return g.EnsureLocalnetGuard("br-g") })
	t.Cleanup(func() {
		testutil.Run(t, "ip", "-n", host, "link", "del", "br-g")
		inNS(t, host, func() error { return g.DeleteLocalnetGuard("br-g") })
	})
	if got := dialFrom(t, ctr, "127.0.0.1:9999"); got != "" {
		t.Errorf("with the guard the container reached the host's 127.0.0.1:9999: %q", got)
	}
	if got := dialFrom(t, host, "127.0.0.1:8081"); got != "hello from the container" {
		t.Errorf("with the guard the host's 127.0.0.1:8081, DNATed to the container: %q", got)
	}
	if out, _ := testutil.InNS(host, "nft", "list", "chain", "inet", "plumb", "localnet_guard"); !counterRE.MatchString(out) || !regexp.MustCompile(`counter packets [1-9]`).MatchString(out) {
		t.Errorf("no drop counted by the guard:\n%s", out)
	}
}
