package nftables

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// BenchmarkPrivilegedNetPorts measures AddPorts and DeletePortsOf of one
// endpoint's port with 0, 100 and 1000 ports already published (one per
// owner), in a throwaway namespace. Reported as add-µs and delete-µs per
// call (delete: ~13.5 ms whatever the ports, the kernel's grace period on
// a deleting batch: see DeletePortsOf). Run:
//
//	go test -run '^$' -bench BenchmarkPrivilegedNetPorts -benchtime 300x ./firewall/nftables/
func BenchmarkPrivilegedNetPorts(b *testing.B) {
	testutil.RequirePrivileged(b)
	for _, existing := range []int{0, 100, 1000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			name := testutil.NewNetNS(b)
			f := newNetFW(b)
			var pubs []firewall.Published
			for i := range existing {
				pubs = append(pubs, firewall.Published{Network: netA, Owner: fmt.Sprintf("ep%d", i), Ports: []firewall.Port{
					{Proto: "tcp", HostPort: uint16(10000 + i), ContainerIP: netip.MustParseAddr("172.30.1.2"), ContainerPort: 80}}})
			}
			port := []firewall.Port{{Proto: "tcp", HostPort: 40000, ContainerIP: netip.MustParseAddr("172.30.1.3"), ContainerPort: 80}}
			err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error {
				if _, err := f.EnsureAll([]firewall.Network{netA}, pubs); err != nil {
					return err
				}
				var add, del time.Duration
				b.ResetTimer()
				for b.Loop() {
					t0 := time.Now()
					if err := f.AddPorts(netA, "bench", port); err != nil {
						return err
					}
					t1 := time.Now()
					if err := f.DeletePortsOf("a", "bench", port); err != nil {
						return err
					}
					add, del = add+t1.Sub(t0), del+time.Since(t1)
				}
				b.ReportMetric(float64(add.Microseconds())/float64(b.N), "add-µs")
				b.ReportMetric(float64(del.Microseconds())/float64(b.N), "delete-µs")
				return f.DeleteNetwork("a")
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
