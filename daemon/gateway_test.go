package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/plumbnet/plumb/network"
)

// logBook captures what a nameService logs.
type logBook struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBook) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, fmt.Sprintf(format, args...))
}

// count is the number of lines containing every one of subs.
func (b *logBook) count(subs ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, l := range b.lines {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			n++
		}
	}
	return n
}

func (b *logBook) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

// Defect 10: a gateway listener that cannot be made (the bridge is
// missing, or its port is taken) is retried on every sync and up; its
// failure is logged once per network and cause, and its recovery once.
func TestGatewayFailureLoggedOnce(t *testing.T) {
	// The gateway port is taken by the test (address in use), on 127.0.0.1
	// so no root is needed; "gone" names an address this host does not
	// have (as when its bridge is missing).
	held, port := holdPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := newNameService(ctx, nil)
	t.Cleanup(func() { cancel(); s.close() })
	var log logBook
	s.logf, s.gatewayPort = log.logf, port
	busy := &network.Network{Name: "busy", Subnet: netip.MustParsePrefix("127.0.0.0/8"), Gateway: netip.MustParseAddr("127.0.0.1")}
	gone := &network.Network{Name: "gone", Subnet: netip.MustParsePrefix("192.0.2.0/24"), Gateway: netip.MustParseAddr("192.0.2.1")}
	nets := []*network.Network{busy, gone}

	for range 5 {
		s.sync(nets, nil, nil)
	}
	if n := log.count(`"busy"`, "address already in use"); n != 1 {
		t.Errorf("busy's bind failure logged %d times over 5 syncs, want 1:\n%s", n, &log)
	}
	if n := log.count(`"gone"`, "cannot assign requested address"); n != 1 {
		t.Errorf("gone's bind failure logged %d times over 5 syncs, want 1:\n%s", n, &log)
	}

	// Up retries too, and is as quiet.
	for range 3 {
		if err := s.up(gone, &network.Endpoint{ID: "e1", Network: "gone", Kind: network.KindCNI, IP: netip.MustParsePrefix("192.0.2.2/24")}); err != nil {
			t.Fatal(err)
		}
	}

	// The port comes free: the next sync serves, and says so once.
	for _, c := range held {
		c.Close()
	}
	for range 3 {
		s.sync(nets, nil, nil)
	}
	s.mu.Lock()
	serving := s.gateways["busy"] != nil
	s.mu.Unlock()
	if !serving {
		t.Fatalf("busy's gateway not served once its port came free:\n%s", &log)
	}
	if n := log.count(`"busy"`, "serving again"); n != 1 {
		t.Errorf("busy's recovery logged %d times, want 1:\n%s", n, &log)
	}
	if n := log.count(`"gone"`); n != 1 {
		t.Errorf("gone logged %d times in all, want 1:\n%s", n, &log)
	}

	// A network removed and created again is a new network: its failure
	// is news again.
	s.sync([]*network.Network{busy}, nil, nil)
	s.sync(nets, nil, nil)
	s.sync(nets, nil, nil)
	if n := log.count(`"gone"`); n != 2 {
		t.Errorf("gone logged %d times after it was removed and created again, want 2:\n%s", n, &log)
	}
}

// holdPort binds UDP and TCP on one free 127.0.0.1 port, as a gateway
// listener would, and returns the sockets (closed at cleanup) and the port.
func holdPort(t *testing.T) ([]io.Closer, uint16) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp4", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		t.Cleanup(func() { pc.Close(); ln.Close() })
		return []io.Closer{pc, ln}, uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	}
	t.Fatal("no free port for udp and tcp together")
	return nil, 0
}
