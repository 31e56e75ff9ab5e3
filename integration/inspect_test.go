package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/inspect"
)

// listenEnv makes the test binary a plain listener process (see init):
// inspect must find a listening socket's owner among the namespace's own
// processes, which a socket opened by this test's thread is not.
const listenEnv = "PLUMB_IT_INSPECT_LISTEN"

func init() {
	if port := os.Getenv(listenEnv); port != "" {
		ln, err := net.Listen("tcp4", "0.0.0.0:"+port)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("ready\n")
		_, _ = io.Copy(io.Discard, os.Stdin)
		ln.Close()
		os.Exit(0)
	}
}

// listener runs a TCP listener on port as its own process in netns ns and
// returns its pid; cleanup closes its stdin, which ends it.
func listener(t *testing.T, ns, port string) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, exe)
	cmd.Env = append(os.Environ(), listenEnv+"="+port)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("listener in %s did not start: %q", ns, line)
	}
	return cmd.Process.Pid
}

// TestPrivilegedInspect: inspect of an attached target with a published
// port and a listener shows its interface, host peer and bridge, default
// route, listener and owner, resolv.conf, DNS names, port and DNAT rule;
// of an un-attached namespace, what the kernel holds and "not attached";
// of an unknown target, one line and exit 1.
func TestPrivilegedInspect(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "insp", "--subnet", "10.231.61.0/24")
	a, b := target(t), target(t)
	pid := listener(t, a, "80")
	h.must("attach", "netns:"+a, "--net", "insp", "-p", "8080:80")
	h.must("attach", "netns:"+b, "--net", "insp")

	var r inspect.Report
	if err := json.Unmarshal([]byte(h.must("inspect", "netns:"+a, "--format", "json")), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Attached || len(r.Endpoints.Items) != 1 {
		t.Fatalf("endpoints: %+v", r.Endpoints)
	}
	ep := r.Endpoints.Items[0]
	checkInterface(t, h, &r, ep.IfName, ep.IP, ep.MAC, ep.HostVeth)
	checkDefaultRoute(t, &r, "10.231.61.1")
	checkListener(t, &r, pid)
	if !strings.Contains(r.ResolvConf.Items.Content, "nameserver 127.0.0.11") {
		t.Errorf("resolv.conf: %+v", r.ResolvConf)
	}
	if len(r.DNS.Items) != 1 || !contains(r.DNS.Items[0].Names, a) || !contains(r.DNS.Items[0].Resolves, b) {
		t.Errorf("dns: %+v", r.DNS.Items)
	}
	if len(ep.Ports) != 1 || ep.Ports[0].HostPort != 8080 {
		t.Errorf("ports: %+v", ep.Ports)
	}
	checkDNATRule(t, h, &r, ep.IP.Addr().String()+":80")

	text := h.must("inspect", "netns:"+a)
	for _, want := range []string{"nsenter --net=/var/run/netns/" + a + " ip route", ep.HostVeth, "8080", "127.0.0.11"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}

	c := target(t)
	text = h.must("inspect", "netns:"+c)
	if strings.Count(text, "not attached by plumb") != 3 || !strings.Contains(text, "lo ") {
		t.Errorf("un-attached namespace:\n%s", text)
	}

	out, err := h.run("inspect", "netns:nosuchinspect")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "nosuchinspect") {
		t.Errorf("unknown target: %v %q", err, out)
	}
}

func checkInterface(t *testing.T, h *host, r *inspect.Report, ifname string, ip netip.Prefix, mac, hostVeth string) {
	t.Helper()
	var nw struct{ Bridge string }
	raw, err := os.ReadFile(filepath.Join(h.state, "networks", "insp", "network.json"))
	if err != nil || json.Unmarshal(raw, &nw) != nil {
		t.Fatalf("network.json: %v", err)
	}
	for _, in := range r.Interfaces.Items {
		if in.Name != ifname {
			continue
		}
		if in.MAC != mac || !contains(in.Addrs, ip) {
			t.Errorf("%s: mac %s addrs %v, want %s %s", ifname, in.MAC, in.Addrs, mac, ip)
		}
		if in.HostPeer == nil || in.HostPeer.Name != hostVeth || in.HostPeer.Bridge != nw.Bridge {
			t.Errorf("%s: host peer %+v, want %s on %s", ifname, in.HostPeer, hostVeth, nw.Bridge)
		}
		return
	}
	t.Errorf("no interface %s in %+v", ifname, r.Interfaces)
}

func checkDefaultRoute(t *testing.T, r *inspect.Report, gw string) {
	t.Helper()
	for _, rt := range r.Routes.Items {
		if rt.Dst.Bits() == 0 && rt.Gateway.String() == gw {
			return
		}
	}
	t.Errorf("no default route via %s in %+v", gw, r.Routes)
}

func checkListener(t *testing.T, r *inspect.Report, pid int) {
	t.Helper()
	for _, s := range r.Listening.Items {
		if s.Proto == "tcp" && s.Local.Port() == 80 && s.PID == pid {
			return
		}
	}
	t.Errorf("no tcp :80 owned by %d in %+v", pid, r.Listening)
}

// checkDNATRule checks that the report names the DNAT rule of the port and
// that iptables holds that very rule.
func checkDNATRule(t *testing.T, h *host, r *inspect.Report, to string) {
	t.Helper()
	if os.Getenv("PLUMB_FIREWALL") == "nftables" {
		checkDNATElement(t, h, r, strings.Replace(to, ":", " . ", 1))
		return
	}
	save, _ := h.sh("iptables-save", "-t", "nat")
	save = strings.ReplaceAll(save, `"`, "") // iptables-save quotes the comments
	for _, f := range r.Firewall.Items {
		if f.Why == "published port" && strings.Contains(f.Rule, "--dport 8080") && strings.Contains(f.Rule, to) {
			if rule := strings.TrimPrefix(f.Rule, "iptables -t nat "); !strings.Contains(save, rule) {
				t.Errorf("rule %q not in iptables-save:\n%s", rule, save)
			}
			return
		}
	}
	t.Errorf("no DNAT to %s for 8080 in %+v", to, r.Firewall)
}

// checkDNATElement is checkDNATRule on the nftables backend: the element
// of the port map inspect shows is in the kernel's map.
func checkDNATElement(t *testing.T, h *host, r *inspect.Report, to string) {
	t.Helper()
	set, _ := h.sh("nft", "list", "map", "inet", "plumb-networks", "ports")
	for _, f := range r.Firewall.Items {
		if f.Why == "published port" && strings.HasPrefix(f.Rule, "@ports { tcp . 8080 ") && strings.HasSuffix(f.Rule, " : "+to+" }") {
			if elem := strings.TrimSuffix(strings.TrimPrefix(f.Rule, "@ports { "), " }"); !strings.Contains(set, elem) {
				t.Errorf("element %q not in the kernel's map:\n%s", f.Rule, set)
			}
			return
		}
	}
	t.Errorf("no DNAT element to %s for 8080 in %+v", to, r.Firewall)
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
