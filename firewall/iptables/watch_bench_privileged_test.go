package iptables

import (
	"context"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/plumbnet/plumb/internal/testutil"
)

// BenchmarkPrivilegedWatchLatency flushes the filter table of the filled
// namespace (`iptables -F`, 100 networks' rules) b.N times and reports how
// long Watch took to call changed: from the start of the command (an upper
// bound that includes starting iptables) and from its exit (negative: the
// call came before the command was reaped). Between two flushes the table
// is restored with iptables-restore and its call waited for, untimed.
// With PLUMB_BENCH_LEGACY=1 it measures the polling of iptables-legacy.
//
//	go test -run XXX -bench WatchLatency -benchtime 200x ./firewall/iptables
func BenchmarkPrivilegedWatchLatency(b *testing.B) {
	h := fillBench(b)
	filter := filterSection(b, h.name)
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan time.Time, 16)
	errc := testutil.GoInNS(b, h.name, func() error {
		return h.fw.Watch(ctx, func() {
			select {
			case calls <- time.Now():
			default: // a call is pending already: the one waited for
			}
		})
	})
	b.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			b.Errorf("Watch: %v", err)
		}
	})
	<-calls // the first call
	legacy := !nftMode(b)
	var fromStart, fromExit []time.Duration
	err := ns.WithNetNSPath("/var/run/netns/"+h.name, func(ns.NetNS) error {
		b.ResetTimer()
		for range b.N {
			if legacy {
				// Drift comes at any moment, not just after a poll: a
				// random phase within the poll period, untimed.
				b.StopTimer()
				time.Sleep(rand.N(legacyPollEvery))
				b.StartTimer()
			}
			t0 := time.Now()
			if out, err := exec.Command("iptables", "-F").CombinedOutput(); err != nil {
				b.Fatalf("iptables -F: %v\n%s", err, out)
			}
			t1 := time.Now()
			cb := <-calls
			fromStart, fromExit = append(fromStart, cb.Sub(t0)), append(fromExit, cb.Sub(t1))
			b.StopTimer()
			cmd := exec.Command("iptables-restore", "--noflush")
			cmd.Stdin = strings.NewReader(filter)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("iptables-restore: %v\n%s", err, out)
			}
			<-calls
			b.StartTimer()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"start", fromStart}, {"exit", fromExit}} {
		slices.Sort(s.d)
		b.ReportMetric(ms(s.d[len(s.d)/2]), "p50-ms-from-"+s.name)
		b.ReportMetric(ms(s.d[len(s.d)*99/100]), "p99-ms-from-"+s.name)
	}
}

// filterSection is the *filter section of iptables-save in the namespace.
func filterSection(b *testing.B, name string) string {
	out, err := testutil.InNS(name, "iptables-save", "-t", "filter")
	if err != nil {
		b.Fatalf("iptables-save: %v\n%s", err, out)
	}
	return out
}

// BenchmarkPrivilegedWatchIdle runs Watch on the filled namespace for 5 s
// without a change and reports the CPU the whole test process used, per
// second: an upper bound of what an idle Watch costs (the Go runtime's own
// idle work is in it too). b.N is ignored.
//
//	go test -run XXX -bench WatchIdle -benchtime 1x ./firewall/iptables
func BenchmarkPrivilegedWatchIdle(b *testing.B) {
	h := fillBench(b)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{}, 1)
	errc := testutil.GoInNS(b, h.name, func() error {
		return h.fw.Watch(ctx, func() {
			select {
			case first <- struct{}{}:
			default:
			}
		})
	})
	<-first
	// The fill's garbage is collected and returned to the OS first: the
	// runtime's background scavenging would be counted otherwise.
	runtime.GC()
	debug.FreeOSMemory()
	const idle = 5 * time.Second
	c0 := cpuTime()
	time.Sleep(idle) // the measurement: nothing to wait for
	used := cpuTime() - c0
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(used)/float64(idle)*100, "cpu-%")
	b.ReportMetric(float64(used.Microseconds())/idle.Seconds(), "cpu-us/s")
}
