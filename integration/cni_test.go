package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/plumbnet/plumb/cni"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedCNI drives plumb through libcni as a runtime does, in a
// throwaway host namespace: ADD of two namespaces that then reach each
// other and one the CLI attached; one state with the CLI; DNS on the
// gateway; CHECK; DEL three times; DEL after the netns is gone; CHECK
// after the veth is deleted by hand; GC; STATUS. Last, the host namespace
// is what it was before.
func TestPrivilegedCNI(t *testing.T) {
	// CHECK is asked right after a veth is deleted by hand: the daemon the
	// plugin starts (it inherits the environment) must not repair it first.
	t.Setenv("PLUMB_RECONCILE", "off")
	c := newCNIHost(t)
	before := c.snapshot()
	const net = "cnet"
	l := c.conflist(t, "1.1.0", net, map[string]any{
		"subnet":       "10.231.40.0/24",
		"capabilities": map[string]bool{"aliases": true, "mac": true, "ips": true, "portMappings": true},
	})
	a, b, cli := target(t), target(t), target(t)
	serve(t, a, 80, "a")
	ra := rt("ctr-a", a, "eth0", map[string]any{
		"aliases":      map[string][]string{net: {"alpha"}},
		"portMappings": []map[string]any{{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}, {"hostPort": 8081, "containerPort": 80, "protocol": "udp"}},
	})
	rb := rt("ctr-b", b, "eth0", map[string]any{"aliases": map[string][]string{net: {"beta", "web"}}, "mac": "02:aa:00:00:00:0b"})
	resA := c.mustAdd(t, l, ra)
	resB := c.mustAdd(t, l, rb)
	ipA, ipB := addrOf(t, resA, "eth0"), addrOf(t, resB, "eth0")

	// The result: bridge, host veth, container interface in its sandbox,
	// the address with the gateway, the default route, the gateway as DNS.
	if n := len(resA.Interfaces); n != 3 || resA.Interfaces[2].Sandbox != ra.NetNS || resA.Interfaces[1].Sandbox != "" {
		t.Fatalf("ADD result interfaces: %v", resA.Interfaces)
	}
	if !c.linkExists(resA.Interfaces[1].Name) || !c.linkExists(resA.Interfaces[0].Name) {
		t.Fatalf("the result names host interfaces %v that are not there", resA.Interfaces[:2])
	}
	if gw := resA.IPs[0].Gateway.String(); gw != "10.231.40.1" || len(resA.Routes) != 1 || resA.Routes[0].GW.String() != gw {
		t.Fatalf("ADD result gateway %s, routes %v", gw, resA.Routes)
	}
	if ns := resA.DNS.Nameservers; len(ns) != 1 || ns[0] != "10.231.40.1" {
		t.Fatalf("ADD result dns: %+v", resA.DNS)
	}
	if resB.Interfaces[2].Mac != "02:aa:00:00:00:0b" {
		t.Fatalf("mac capability not applied: %v", resB.Interfaces[2])
	}
	if out, _ := c.sh("ip", "netns", "exec", b, "ip", "-o", "link", "show", "eth0"); !strings.Contains(out, "02:aa:00:00:00:0b") {
		t.Fatalf("eth0 of %s: %s", b, out)
	}

	// One state: the CLI sees the CNI network and its endpoints, and its
	// own attach lands on the same network with another address.
	if out := c.must("network", "ls"); !strings.Contains(out, net) || !strings.Contains(out, "10.231.40.0/24") {
		t.Fatalf("network ls does not show the CNI network:\n%s", out)
	}
	c.must("attach", "netns:"+cli, "--net", net)
	ipC := c.epIP("netns:"+cli, net)
	ps := c.must("ps", "--net", net)
	for _, want := range []string{"cni:ctr-a", "cni:ctr-b", ipA, ipB, ipC} {
		if !strings.Contains(ps, want) {
			t.Fatalf("plumb ps lacks %s:\n%s", want, ps)
		}
	}
	if ipC == ipA || ipC == ipB || ipA == ipB {
		t.Fatalf("addresses collide: %s %s %s", ipA, ipB, ipC)
	}
	for _, p := range [][2]string{{a, ipB}, {b, ipA}, {a, ipC}, {cli, ipA}, {cli, ipB}} {
		if !ping(p[0], p[1]) {
			t.Fatalf("%s cannot reach %s", p[0], p[1])
		}
	}

	// Names: the gateway listener answers the aliases, from inside a
	// CNI namespace, as its resolv.conf (written by a runtime from the
	// result) would have it ask.
	if got := dig(a, "10.231.40.1", "web"); got != ipB {
		t.Fatalf("%s asks the gateway for web: %q, want %s", a, got, ipB)
	}
	if got := dig(b, "10.231.40.1", "alpha"); got != ipA {
		t.Fatalf("%s asks the gateway for alpha: %q, want %s", b, got, ipA)
	}

	if err := c.check(l, ra); err != nil {
		t.Fatalf("CHECK of a whole attachment: %v", err)
	}

	// portMappings: plumb publishes the ports as `attach -p` does.
	for _, r := range []struct{ from, addr string }{{c.ns, "127.0.0.1:8081"}, {c.ns, "10.231.40.1:8081"}, {b, "10.231.40.1:8081"}} {
		if got := tcpFrom(r.from, r.addr); got != "hello from a" {
			t.Fatalf("tcp to the published port %s from %s: %q", r.addr, r.from, got)
		}
	}
	if got := udpFrom(t, b, "10.231.40.1:8081"); got != "hello from a" {
		t.Fatalf("udp to the published port from %s: %q", b, got)
	}
	// CHECK sees a port rule deleted by hand, and ADD again (the
	// runtime's repair) is a no-op here, so DEL and re-ADD put it back.
	want := "--dport 8081"
	if os.Getenv("PLUMB_FIREWALL") == "nftables" {
		mustSh(t, c.host, "nft", "delete", "element", "inet", "plumb-networks", "ports", "{ tcp . 8081 }")
		want = "8081"
	} else {
		mustSh(t, c.host, "iptables", "-t", "nat", "-D", "PLUMB-OUTPUT", "-p", "tcp", "-m", "tcp", "--dport", "8081",
			"-m", "comment", "--comment", "plumb:"+net+"/"+cni.EndpointID("ctr-a", "eth0"), "-j", "DNAT", "--to-destination", ipA+":80")
	}
	if err := c.check(l, ra); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("CHECK with a port rule gone: %v", err)
	}
	if err := c.del(l, ra); err != nil {
		t.Fatal(err)
	}
	resA = c.mustAdd(t, l, ra)
	ipA = addrOf(t, resA, "eth0")
	if err := c.check(l, ra); err != nil {
		t.Fatalf("CHECK after DEL and ADD again: %v", err)
	}
	if got := tcpFrom(b, "10.231.40.1:8081"); got != "hello from a" {
		t.Fatalf("the port published again does not answer: %q", got)
	}

	// DEL three times: all succeed; the address, record and name are gone
	// after the first, and the host veth is down (the daemon deletes it).
	hostVethA := resA.Interfaces[1].Name
	for i := 1; i <= 3; i++ {
		if err := c.del(l, ra); err != nil {
			t.Fatalf("DEL #%d: %v", i, err)
		}
	}
	if c.reserved(net, ipA) {
		t.Fatalf("DEL left %s reserved", ipA)
	}
	if out, err := c.sh("ip", "-o", "link", "show", hostVethA); err == nil && strings.Contains(out, "state UP") {
		t.Fatalf("after DEL the host veth is still up: %s", out)
	}
	if got := dig(b, "10.231.40.1", "alpha"); got != "" {
		t.Fatalf("alpha still resolves after DEL: %q", got)
	}
	if strings.Contains(c.must("ps", "--net", net), "cni:ctr-a") {
		t.Fatal("plumb ps still lists the deleted attachment")
	}
	if got := tcpFrom(c.ns, "127.0.0.1:8081"); got != "" {
		t.Fatalf("the published port still answers after DEL: %q", got)
	}
	if err := inNS(c.ns, func() error {
		ln, err := listenHello(":8081")
		if err == nil {
			ln.Close()
		}
		return err
	}); err != nil {
		t.Fatalf("DEL did not let the host port go: %v", err)
	}
	if err := c.check(l, ra); cniCode(err) != int(types.ErrUnknownContainer) {
		t.Fatalf("CHECK after DEL: %v, want code 3", err)
	}
	// One pair deleted and added again at once, five times, while the
	// daemon is likely still deleting the old veth of the same name: each
	// ADD gives a working attachment.
	z := target(t)
	rz := rt("ctr-z", z, "eth0", nil)
	for i := 0; i < 5; i++ {
		res := c.mustAdd(t, l, rz)
		if !ping(b, addrOf(t, res, "eth0")) || c.check(l, rz) != nil {
			t.Fatalf("ADD #%d of a pair deleted just before does not work", i+1)
		}
		if err := c.del(l, rz); err != nil {
			t.Fatal(err)
		}
	}
	// The same, made certain: a veth of the pair's name is there, with no
	// record (as after a DEL whose daemon has not deleted it yet, or an
	// ADD that was killed). The next ADD replaces it.
	leftover := hostVethOf(t, c, net, "ctr-z", "eth0")
	mustSh(t, c.host, "ip", "link", "add", leftover, "type", "veth", "peer", "name", "zzleft0")
	if res := c.mustAdd(t, l, rz); !ping(b, addrOf(t, res, "eth0")) || res.Interfaces[1].Name != leftover {
		t.Fatalf("ADD over a leftover veth %s: %v", leftover, res.Interfaces)
	}
	if c.linkExists("zzleft0") {
		t.Fatal("the leftover veth pair is still there")
	}
	if err := c.del(l, rz); err != nil {
		t.Fatal(err)
	}

	// DEL after the namespace is gone frees the address.
	gone := target(t)
	rg := rt("ctr-gone", gone, "eth0", nil)
	ipG := addrOf(t, c.mustAdd(t, l, rg), "eth0")
	c.sh("ip", "netns", "del", gone)
	if err := c.del(l, rg); err != nil {
		t.Fatalf("DEL after the netns went: %v", err)
	}
	rg.NetNS = ""
	if err := c.del(l, rg); err != nil {
		t.Fatalf("DEL with no CNI_NETNS: %v", err)
	}
	if c.reserved(net, ipG) {
		t.Fatalf("DEL after the netns went left %s reserved", ipG)
	}

	// CHECK fails once the veth is deleted by hand.
	if err := c.check(l, rb); err != nil {
		t.Fatalf("CHECK of b: %v", err)
	}
	mustSh(t, c.host, "ip", "link", "del", resB.Interfaces[1].Name)
	err := c.check(l, rb)
	if err == nil || !strings.Contains(err.Error(), resB.Interfaces[1].Name) || cniCode(err) < 0 {
		t.Fatalf("CHECK after the veth was deleted: %v, want a CNI error naming it", err)
	}
	if err := c.del(l, rb); err != nil {
		t.Fatalf("DEL of the broken attachment: %v", err)
	}

	// GC: listed attachments stay, the others go; with an empty list
	// every CNI attachment goes, the CLI's endpoint stays, and so do the
	// network's config and lock files.
	d, e := target(t), target(t)
	rd, re := rt("ctr-d", d, "eth0", nil), rt("ctr-e", e, "net1", nil)
	ipD, ipE := addrOf(t, c.mustAdd(t, l, rd), "eth0"), addrOf(t, c.mustAdd(t, l, re), "net1")
	if err := c.gc(l, types.GCAttachment{ContainerID: "ctr-d", IfName: "eth0"}, types.GCAttachment{ContainerID: "ctr-e", IfName: "eth0"}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if !c.reserved(net, ipD) || c.reserved(net, ipE) {
		t.Fatalf("GC keeping ctr-d/eth0: reserved d %v (want true), e/net1 %v (want false)", c.reserved(net, ipD), c.reserved(net, ipE))
	}
	if err := c.check(l, rd); err != nil {
		t.Fatalf("CHECK of an attachment GC kept: %v", err)
	}
	// A port of the bridge named like plumb's veths with no record (the
	// daemon that was to delete it died) goes too; another port stays.
	bridgeName := resA.Interfaces[0].Name
	mustSh(t, c.host, "ip", "link", "add", "veth0123456789a", "master", bridgeName, "type", "veth", "peer", "name", "zzstray0")
	mustSh(t, c.host, "ip", "link", "add", "zzother0", "master", bridgeName, "type", "veth", "peer", "name", "zzother1")
	if err := c.gc(l); err != nil {
		t.Fatalf("GC with no valid attachment: %v", err)
	}
	if c.linkExists("veth0123456789a") || !c.linkExists("zzother0") {
		t.Fatalf("GC: stray plumb-named port left %v (want false), foreign port kept %v (want true)", c.linkExists("veth0123456789a"), c.linkExists("zzother0"))
	}
	mustSh(t, c.host, "ip", "link", "del", "zzother0")
	if c.reserved(net, ipD) || !c.reserved(net, ipC) {
		t.Fatalf("GC with an empty list: d reserved %v (want false), CLI endpoint reserved %v (want true)", c.reserved(net, ipD), c.reserved(net, ipC))
	}
	if n := c.endpointRecords(t, net); n != 1 {
		t.Fatalf("after GC %d endpoint records remain, want the CLI's one", n)
	}
	for _, f := range []string{"network.json", "lock", "attach.lock"} {
		if _, err := os.Stat(filepath.Join(c.state, "networks", net, f)); err != nil {
			t.Fatalf("GC removed the network's %s: %v", f, err)
		}
	}
	if !ping(cli, "10.231.40.1") {
		t.Fatal("the CLI endpoint lost its network in GC")
	}

	// STATUS: fine, then 51 when the bridge is deleted by hand; the next
	// ADD rebuilds it.
	if err := c.status(l); err != nil {
		t.Fatalf("STATUS: %v", err)
	}
	bridge := resA.Interfaces[0].Name // deleting it cuts the CLI endpoint off too: last
	mustSh(t, c.host, "ip", "link", "del", bridge)
	if err := c.status(l); cniCode(err) != int(types.ErrLimitedConnectivity) {
		t.Fatalf("STATUS with the bridge gone: %v, want code 51", err)
	}
	c.mustAdd(t, l, ra)
	if err := c.status(l); err != nil {
		t.Fatalf("STATUS after ADD rebuilt the bridge: %v", err)
	}
	if err := c.del(l, ra); err != nil {
		t.Fatal(err)
	}

	// Remove it all: the host namespace is as it was.
	c.must("detach", "netns:"+cli)
	c.must("network", "rm", net)
	c.stopDaemon() // waits for the daemon, which finishes its deletions first
	if after := c.snapshot(); after != before {
		t.Fatalf("host namespace differs after network rm:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestPrivilegedCNIChain puts plumb first in a chain with Debian's
// reference tuning and portmap plugins: they find plumb's container
// interface and address in prevResult (tuning sets the MAC and a sysctl,
// portmap forwards a host port to the container), CHECK passes through
// the whole chain with tuning's MAC in the result, and DEL unwinds it.
func TestPrivilegedCNIChain(t *testing.T) {
	c := newCNIHost(t)
	for _, p := range []string{"tuning", "portmap"} {
		if _, err := os.Stat(filepath.Join(refPlugins, p)); err != nil {
			if os.Getenv("PLUMB_REQUIRE_PRIVILEGED") != "" {
				t.Fatalf("reference plugin %s missing: apt-get install containernetworking-plugins", p)
			}
			t.Skipf("reference plugin %s missing: apt-get install containernetworking-plugins", p)
		}
	}
	const net, mac = "cchain", "c2:b0:57:49:47:f1"
	// portMappings is portmap's here, not plumb's: one of them must do it.
	plumbConf := map[string]any{"subnet": "10.231.41.0/24"}
	tuning := `{"type":"tuning","mac":"` + mac + `","sysctl":{"net.ipv4.conf.eth0.arp_notify":"1"},"dataDir":"` + t.TempDir() + `"}`
	l := c.conflist(t, "1.0.0", net, plumbConf, tuning, `{"type":"portmap","capabilities":{"portMappings":true}}`)
	// CHECK leaves portmap out: Debian's portmap (1.1.1) fails CHECK on
	// an IPv4-only container, looking for ip6tables rules it never made
	// (containernetworking/plugins#819). libcni hands the same cached
	// result, portmap's entries included, to both plugins left.
	lcheck := c.conflist(t, "1.0.0", net, plumbConf, tuning)
	a := target(t)
	r := rt("ctr-chain", a, "eth0", map[string]any{
		"portMappings": []map[string]any{{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}},
	})
	res := c.mustAdd(t, l, r)
	ip := addrOf(t, res, "eth0")
	if res.Interfaces[2].Mac != mac {
		t.Fatalf("the chain's result has MAC %s on eth0, want tuning's %s: %v", res.Interfaces[2].Mac, mac, res.Interfaces)
	}
	if out, _ := c.sh("ip", "netns", "exec", a, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify"); strings.TrimSpace(out) != "1" {
		t.Fatalf("tuning's sysctl not applied to plumb's eth0: %q", out)
	}

	// portmap's DNAT leads from the host's gateway address to the container.
	var ln interface{ Close() error }
	if err := inNS(a, func() error {
		l, err := listenHello(ip + ":80")
		ln = l
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if got, err := dialFrom(c.ns, "10.231.41.1:8080"); err != nil || got != "hello\n" {
		t.Fatalf("host port 8080 through portmap: %q %v", got, err)
	}

	if err := c.check(lcheck, r); err != nil {
		t.Fatalf("CHECK through the chain: %v", err)
	}
	if err := c.del(l, r); err != nil {
		t.Fatalf("DEL through the chain: %v", err)
	}
	if c.reserved(net, ip) {
		t.Fatalf("DEL through the chain left %s reserved", ip)
	}
	if err := c.del(l, r); err != nil {
		t.Fatalf("second DEL through the chain: %v", err)
	}
}

// TestPrivilegedCNITool drives plumb with the cnitool binary, as a runtime
// would: the config from a NETCONFPATH directory, the plugin found in
// CNI_PATH. cnitool keeps libcni's result cache in /var/lib/cni; the test
// removes what it wrote there (and the directory, when it made it).
func TestPrivilegedCNITool(t *testing.T) {
	tool := cnitoolPath(t)
	c := newCNIHost(t)
	net := testutil.UniqueName("ctool")
	confDir := t.TempDir()
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":%q,"plugins":[{"type":"plumb","subnet":"10.231.42.0/24","stateDir":%q}]}`, net, c.state)
	if err := os.WriteFile(filepath.Join(confDir, "10-plumb.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cacheExisted := true
	if _, err := os.Stat("/var/lib/cni"); os.IsNotExist(err) {
		cacheExisted = false
	}
	t.Cleanup(func() {
		files, _ := filepath.Glob("/var/lib/cni/results/" + net + "-*")
		for _, f := range files {
			os.Remove(f)
		}
		if !cacheExisted {
			os.Remove("/var/lib/cni/results")
			os.Remove("/var/lib/cni")
		}
	})
	cnitool := func(args ...string) (string, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", c.ns, tool}, args...)...)
		cmd.Env = append(os.Environ(), "NETCONFPATH="+confDir, "CNI_PATH="+c.binDir+":"+refPlugins)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	a, b := target(t), target(t)
	var ips []string
	for _, ns := range []string{a, b} {
		out, err := cnitool("add", net, "/var/run/netns/"+ns)
		if err != nil {
			t.Fatalf("cnitool add %s: %v\n%s", ns, err, out)
		}
		r, err := current.NewResultFromResult(mustParseResult(t, out))
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, addrOf(t, r, "eth0"))
	}
	if !ping(a, ips[1]) || !ping(b, ips[0]) {
		t.Fatalf("namespaces added by cnitool cannot reach each other (%v)", ips)
	}
	if out, err := cnitool("check", net, "/var/run/netns/"+a); err != nil {
		t.Fatalf("cnitool check: %v\n%s", err, out)
	}
	if out, err := cnitool("status", net, "/var/run/netns/"+a); err != nil {
		t.Fatalf("cnitool status: %v\n%s", err, out)
	}
	for i := 1; i <= 3; i++ {
		if out, err := cnitool("del", net, "/var/run/netns/"+a); err != nil {
			t.Fatalf("cnitool del #%d: %v\n%s", i, err, out)
		}
	}
	if c.reserved(net, ips[0]) || !c.reserved(net, ips[1]) {
		t.Fatalf("after del of %s: %s reserved %v (want false), %s reserved %v (want true)", a, ips[0], c.reserved(net, ips[0]), ips[1], c.reserved(net, ips[1]))
	}
	// cnitool's gc lists no valid attachment: everything of the network goes.
	if out, err := cnitool("gc", net, "/var/run/netns/"+b); err != nil {
		t.Fatalf("cnitool gc: %v\n%s", err, out)
	}
	if c.reserved(net, ips[1]) || c.endpointRecords(t, net) != 0 {
		t.Fatalf("cnitool gc left %s reserved or records behind", ips[1])
	}
	if _, err := os.Stat(filepath.Join(c.state, "networks", net, "network.json")); err != nil {
		t.Fatalf("gc removed the network's config: %v", err)
	}
}

// mustParseResult parses a result printed by cnitool (cniVersion 1.1.0).
func mustParseResult(t *testing.T, out string) types.Result {
	t.Helper()
	r, err := current.NewResult([]byte(out))
	if err != nil {
		t.Fatalf("parsing the result %q: %v", out, err)
	}
	return r
}

// TestPrivilegedCNIConcurrent: CNI ADDs and CLI attaches to one network at
// the same time draw distinct addresses from the same files, and the CLI
// lists every endpoint.
func TestPrivilegedCNIConcurrent(t *testing.T) {
	c := newCNIHost(t)
	const net = "cconc"
	c.must("network", "create", net, "--subnet", "10.231.43.0/24")
	l := c.conflist(t, "1.0.0", net, map[string]any{"subnet": "10.231.43.0/24"})
	const nCNI, nCLI = 6, 3
	type res struct {
		ip  string
		err error
	}
	out := make(chan res, nCNI+nCLI)
	var cliTargets []string
	for i := 0; i < nCNI; i++ {
		ns := target(t)
		go func(i int) {
			r, err := c.add(l, rt(fmt.Sprintf("conc-%d", i), ns, "eth0", nil))
			if err != nil {
				out <- res{err: err}
				return
			}
			out <- res{ip: r.IPs[0].Address.IP.String()}
		}(i)
	}
	for i := 0; i < nCLI; i++ {
		ns := target(t)
		cliTargets = append(cliTargets, ns)
		go func() {
			o, err := c.run("attach", "netns:"+ns, "--net", net)
			if err != nil {
				err = fmt.Errorf("%v: %s", err, o)
			}
			out <- res{err: err}
		}()
	}
	seen := map[string]bool{}
	for i := 0; i < nCNI+nCLI; i++ {
		r := <-out
		if r.err != nil {
			t.Fatalf("concurrent attach: %v", r.err)
		}
		if r.ip != "" {
			if seen[r.ip] {
				t.Fatalf("two CNI ADDs got %s", r.ip)
			}
			seen[r.ip] = true
		}
	}
	for _, ns := range cliTargets {
		ip := c.epIP("netns:"+ns, net)
		if seen[ip] {
			t.Fatalf("a CLI attach and a CNI ADD both got %s", ip)
		}
		seen[ip] = true
	}
	ents, _ := os.ReadDir(filepath.Join(c.state, "networks", net, "ips"))
	if len(seen) != nCNI+nCLI || len(ents) != nCNI+nCLI {
		t.Fatalf("%d distinct addresses, %d reservations, want %d", len(seen), len(ents), nCNI+nCLI)
	}
}

// hostVethOf is the host veth name plumb gives the CNI attachment
// (containerID, ifname) on netName: "veth" and 11 hex digits of the
// SHA-256 of "NETWORK-ID/ENDPOINT-ID" (network.hostVethName).
func hostVethOf(t *testing.T, c *cniHost, netName, containerID, ifname string) string {
	t.Helper()
	// cmd/plumb/network.go inspectView, shaped like Docker's.
	var views []struct {
		ID string `json:"Id"`
	}
	if err := c.runJSON(&views, "network", "inspect", netName); err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || len(views[0].ID) != 64 {
		t.Fatalf("network inspect %s: %+v, want one network with a 64-digit id", netName, views)
	}
	h := sha256.Sum256([]byte(views[0].ID + "/" + cni.EndpointID(containerID, ifname)))
	return "veth" + hex.EncodeToString(h[:])[:11]
}
