package iptables

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// The benchmarks of the daemon's firewall check, on the size issue 14
// names: 100 networks with 10 endpoints each, two in three publishing one
// or two ports (about 1000 ports, 2000 DNAT rules beside the networks'
// 1200). They are measurements, never assertions:
//
//	go test -run XXX -bench Privileged -benchtime 100x ./firewall/iptables

const (
	benchNets   = 100
	benchPerNet = 10
)

// benchEndpoint is one endpoint of the filled namespace.
type benchEndpoint struct {
	net   firewall.Network
	owner string
	ports []firewall.Port
}

// benchHost is a throwaway namespace filled with benchNets networks.
type benchHost struct {
	name string
	fw   *Firewall
	save *countingSaves
	nets []firewall.Network
	eps  []benchEndpoint
}

// countingSaves counts the execs of iptables-save.
type countingSaves struct {
	runner
	mu    sync.Mutex
	saves int
}

func (c *countingSaves) save() ([]byte, error) {
	c.mu.Lock()
	c.saves++
	c.mu.Unlock()
	return c.runner.save()
}

// fillBench makes the namespace and its networks and ports. Endpoint j of
// network k publishes j%3 ports (tcp, then udp) on host ports 10000+10k+j.
func fillBench(b *testing.B) *benchHost {
	b.Helper()
	testutil.RequirePrivileged(b)
	h := &benchHost{name: testutil.NewNetNS(b)}
	if os.Getenv("PLUMB_BENCH_LEGACY") != "" {
		legacyFirst(b)
	}
	fw, err := New(b.TempDir() + "/iptables.lock")
	if err != nil {
		b.Fatal(err)
	}
	h.save = &countingSaves{runner: fw.run}
	fw.run, h.fw = h.save, fw
	for k := range benchNets {
		n := testNet(fmt.Sprintf("n%d", k), fmt.Sprintf("br-%d", k), fmt.Sprintf("10.100.%d.0/24", k))
		h.nets = append(h.nets, n)
		for j := range benchPerNet {
			ep := benchEndpoint{net: n, owner: fmt.Sprintf("ep%d-%d", k, j)}
			ip := netip.AddrFrom4([4]byte{10, 100, byte(k), byte(j + 2)})
			for i, proto := range []string{"tcp", "udp"}[:j%3] {
				ep.ports = append(ep.ports, firewall.Port{Proto: proto, HostPort: uint16(10000 + 10*k + j + 5000*i), ContainerIP: ip, ContainerPort: 80})
			}
			h.eps = append(h.eps, ep)
		}
	}
	inNS(b, h.name, func() error {
		for _, n := range h.nets {
			if err := fw.EnsureNetwork(n); err != nil {
				return err
			}
		}
		for _, ep := range h.eps {
			if err := fw.AddPorts(ep.net, ep.owner, ep.ports); err != nil {
				return err
			}
		}
		return nil
	})
	return h
}

// checkAll is what the daemon's full check asks of the firewall: one
// Snapshot, every network and every endpoint checked against it.
func (h *benchHost) checkAll() error {
	c, err := h.fw.Snapshot()
	if err != nil {
		return err
	}
	for _, n := range h.nets {
		if err := c.CheckNetwork(n); err != nil {
			return err
		}
	}
	for _, ep := range h.eps {
		if err := c.CheckEndpoint(ep.net, ep.owner, ep.ports); err != nil {
			return err
		}
	}
	return nil
}

// cpuTime is the CPU time used so far by this process and its waited-for
// children (the execs), user and system.
func cpuTime() time.Duration {
	var self, kids unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &self)
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &kids)
	tv := func(t unix.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// measure runs op b.N times in the namespace and reports the wall time's
// p50 and p99, the CPU per op (this process and its children) and, via
// extra, anything else per op.
func measure(b *testing.B, name string, op func() error, extra func(n int)) {
	b.Helper()
	walls := make([]time.Duration, 0, b.N)
	var cpu time.Duration
	err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error {
		b.ResetTimer()
		c0 := cpuTime()
		for range b.N {
			t0 := time.Now()
			if err := op(); err != nil {
				return err
			}
			walls = append(walls, time.Since(t0))
		}
		cpu = cpuTime() - c0
		b.StopTimer()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	slices.Sort(walls)
	b.ReportMetric(ms(walls[len(walls)/2]), "p50-ms")
	b.ReportMetric(ms(walls[(len(walls)*99)/100]), "p99-ms")
	b.ReportMetric(ms(cpu)/float64(b.N), "cpu-ms/op")
	if extra != nil {
		extra(b.N)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func BenchmarkPrivilegedCheck100x1000(b *testing.B) {
	h := fillBench(b)
	b.Cleanup(func() {
		inNS(b, h.name, func() error {
			for _, n := range h.nets {
				_ = h.fw.DeleteNetwork(n.Name)
			}
			return nil
		})
	})
	b.Run("Snapshot", func(b *testing.B) {
		measure(b, h.name, func() error { _, err := h.fw.Snapshot(); return err }, nil)
	})
	b.Run("SnapshotAndCheckNetworks", func(b *testing.B) {
		measure(b, h.name, func() error {
			c, err := h.fw.Snapshot()
			for _, n := range h.nets {
				if err == nil {
					err = c.CheckNetwork(n)
				}
			}
			return err
		}, nil)
	})
	b.Run("SnapshotAndCheckAll", func(b *testing.B) {
		s0 := h.save.saves
		measure(b, h.name, h.checkAll, func(n int) {
			b.ReportMetric(float64(h.save.saves-s0)/float64(n), "execs/op")
		})
	})
	if nft, err := h.fw.nftVariant(); err == nil && !nft {
		b.Run("LegacyProbeRead", func(b *testing.B) {
			var p *legacyProbe
			inNS(b, h.name, func() (err error) { p, err = openLegacyProbe(); return err })
			defer p.Close()
			measure(b, h.name, func() error { _, err := p.read(); return err }, nil)
		})
	}
}
