package integration

import (
	"strings"
	"testing"

	"github.com/plumbnet/plumb/network"
)

// TestPrivilegedDoctorBrNetfilterMeaning checks what doctor's br_netfilter
// note says, with bridge-nf-call-iptables on and off in a host namespace:
// a container reaching its own published port is bridged back to its own
// port (it needs hairpin) with br_netfilter and routed through the host
// without; on an icc=false network bridge port isolation stops direct
// traffic either way, and reaching a sibling's published port is stopped
// by port isolation with br_netfilter and by plumb's DROP rule without.
func TestPrivilegedDoctorBrNetfilterMeaning(t *testing.T) {
	for _, brnf := range []string{"1", "0"} {
		t.Run("bridge-nf-call-iptables="+brnf, func(t *testing.T) {
			h := newHost(t)
			// The DROP rule deleted below must stay deleted.
			h.env = append(h.env, "PLUMB_RECONCILE=off")
			mustSh(t, h, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables="+brnf)
			h.must("network", "create", "web", "--subnet", "10.97.0.0/24")
			h.must("network", "create", "iso", "--subnet", "10.98.0.0/24", "--icc=false")
			a, b, c := target(t), target(t), target(t)
			h.must("attach", "netns:"+a, "--net", "web", "-p", "8080:80")
			h.must("attach", "netns:"+b, "--net", "iso", "-p", "8081:80")
			h.must("attach", "netns:"+c, "--net", "iso", "-p", "8082:80")
			for _, ns := range []string{a, b, c} {
				serve(t, ns, 80, ns)
			}
			routed := brnf == "0"

			if tcpFrom(a, "10.97.0.1:8080") == "" {
				t.Errorf("a container does not reach its own published port")
			}
			port := strings.TrimSpace(shOut(t, h, "sh", "-c", "ip -o link show master "+network.BridgeName("web")+" | cut -d: -f2 | cut -d@ -f1"))
			mustSh(t, h, "bridge", "link", "set", "dev", port, "hairpin", "off")
			if got := tcpFrom(a, "10.97.0.1:8080") != ""; got != routed {
				t.Errorf("own published port without hairpin on its port: reached %v, want %v (routed through the host: %v)", got, routed, routed)
			}

			cAddr := strings.TrimSpace(shOut(t, h, "sh", "-c", "ip -n "+c+" -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"))
			if tcpFrom(b, cAddr+":80") != "" || tcpFrom(b, "10.98.0.1:8082") != "" {
				t.Errorf("icc=false: a container reaches its sibling, directly or through its published port")
			}
			iso := network.BridgeName("iso")
			mustSh(t, h, "iptables", "-D", "PLUMB-FORWARD", "-i", iso, "-o", iso, "-m", "comment", "--comment", "plumb:iso", "-j", "DROP")
			if tcpFrom(b, cAddr+":80") != "" {
				t.Errorf("icc=false without plumb's DROP rule: port isolation does not hold")
			}
			if got := tcpFrom(b, "10.98.0.1:8082") != ""; got != routed {
				t.Errorf("icc=false without plumb's DROP rule: sibling's published port reached %v, want %v", got, routed)
			}
		})
	}
}
