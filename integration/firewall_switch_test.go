package integration

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPrivilegedFirewallSwitch moves a network with a published port from
// the iptables backend to nftables and back while a prober on another host
// connects to the port without a pause: no connection fails, each backend
// holds the rules only while it is the one in use, and `network inspect`
// and `doctor` name it and finds no problem on either. The switch is the
// README's: `plumb --firewall X doctor --fix`.
func TestPrivilegedFirewallSwitch(t *testing.T) {
	h := newHost(t)
	mustSh(t, h, "ip", "link", "set", "lo", "up")
	outsideNS, _ := outside(t, h)
	const addr = "198.51.100.1:8181" // h's address on the outside link
	h.must("--firewall", "iptables", "network", "create", "sw", "--subnet", "10.231.41.0/24")
	a := target(t)
	serve(t, a, 80, "a")
	h.must("attach", "netns:"+a, "--net", "sw", "-p", "8181:80")
	waitAnswer(t, outsideNS, addr)
	assertBackend(t, h, "iptables")

	var tries, fails atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tries.Add(1)
			if tcpFrom(outsideNS, addr) != "hello from a" {
				fails.Add(1)
			}
		}
	}()
	for _, to := range []string{"nftables", "iptables", "nftables"} {
		out, err := h.run("--firewall", to, "doctor", "--fix")
		if err != nil {
			t.Errorf("plumb --firewall %s doctor --fix: %v\n%s", to, err, out)
		}
		if !strings.Contains(out, "moved 1 network and the published ports of 1 endpoint from") {
			t.Errorf("switch to %s: no line saying what moved:\n%s", to, out)
		}
		assertBackend(t, h, to)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d connections across the switches, %d failed", tries.Load(), fails.Load())
	if fails.Load() > 0 || tries.Load() == 0 {
		t.Errorf("%d of %d connections to the published port failed across the switches", fails.Load(), tries.Load())
	}
	if got := tcpFrom(outsideNS, addr); got != "hello from a" {
		t.Errorf("after the switches the port answers %q", got)
	}
}

// waitAnswer waits for addr to answer "hello from a" from ns.
func waitAnswer(t *testing.T, ns, addr string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if tcpFrom(ns, addr) == "hello from a" {
			return
		}
	}
	t.Fatalf("%s does not answer from %s", addr, ns)
}

// assertBackend checks that backend holds plumb's rules in h and the other
// none, and that inspect and doctor name it.
func assertBackend(t *testing.T, h *host, backend string) {
	t.Helper()
	ipt, _ := h.sh("iptables-save")
	nft, _ := h.sh("nft", "list", "tables")
	inIPT := strings.Contains(ipt, "PLUMB-FORWARD")
	inNFT := strings.Contains(nft, "plumb-networks")
	if inIPT != (backend == "iptables") || inNFT != (backend == "nftables") {
		t.Errorf("on %s: PLUMB-* chains in iptables %v, table plumb-networks %v\n%s\n%s", backend, inIPT, inNFT, ipt, nft)
	}
	if out := h.must("network", "inspect", "sw"); !strings.Contains(out, `"Firewall": "`+backend+`"`) {
		t.Errorf("network inspect does not say %s:\n%s", backend, out)
	}
	if out, err := h.run("doctor"); err != nil || !strings.HasPrefix(out, "firewall: "+backend+" ") {
		t.Errorf("doctor on %s: %v (want no problem, the backend named first):\n%s", backend, err, out)
	}
}
