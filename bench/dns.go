package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The DNS benchmark: plumb's daemon, loaded with DNSNames names over
// dnsNets networks, against aardvark-dns (podman's) serving the names of the
// client's network, both driven by the same dnsperf and Go client from the
// same target namespace with the same address, one after the other.
const (
	dnsNets     = 10
	dnsClient   = 1 // the client is target bt-1, on the first network
	dnsWorkers  = 4 // dnsperf -c and the Go client's workers
	aardvarkBin = "/usr/lib/podman/aardvark-dns"
	// aardvarkUpstream is the only upstream aardvark-dns is given:
	// TEST-NET-2, to which the bench netns has no route, so a forward
	// could only fail at sendto (ENETUNREACH) and nothing leaves.
	aardvarkUpstream = "198.51.100.1"
	aardvarkNet      = "dnsbench" // the config file's name: the network's
	aardvarkBridge   = "avbr0"
	aardvarkVeth     = "av-client" // host end; the client's end is eth0
)

// dnsNetName is the k-th DNS network (from 0); the client's is "dnsbench".
func dnsNetName(k int) string {
	if k == 0 {
		return "dnsbench"
	}
	return fmt.Sprintf("dnsbench-%d", k+1)
}

// dnsSubnet is the k-th DNS network's subnet; unused by every other step.
func dnsSubnet(k int) string { return fmt.Sprintf("10.243.%d.0/24", k) }

// dnsName is one name the client's network serves, and its address.
type dnsName struct {
	Name string
	IP   netip.Addr
}

// dnsBench is the worker step. It runs last: the daemon an earlier step
// started has exited with its networks, so the one measured here is fresh
// and holds only the DNS networks' names.
func (w *worker) dnsBench(ctx context.Context) error {
	p := w.plan
	d := &DNSResults{Names: p.DNSNames, Networks: dnsNets, Secs: p.DNSSecs, Workers: dnsWorkers}
	w.res.DNS = d
	switch {
	case !p.DNS:
		d.Skip = "skipped (-dns=false)"
		return nil
	case p.DNSSkip != "":
		d.Skip = "skipped: " + p.DNSSkip
		return nil
	}
	perNet := p.DNSNames / dnsNets
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		d.note("%s", n)
	}
	if out, err := sh("ip", "-4", "route", "show", "default"); err != nil || strings.TrimSpace(out) != "" {
		return fmt.Errorf("the bench netns must have no default route (nothing may be forwarded out of it): %q %v", out, err)
	}

	// plumb: DNSNames namespaces over dnsNets networks; attach starts the daemon.
	for k := 0; k < dnsNets; k++ {
		if _, err := w.createNetwork(dnsNetName(k), dnsSubnet(k)); err != nil {
			return err
		}
	}
	att := w.res.add(&Series{Key: "dns.attach", Tool: "plumb",
		Op: fmt.Sprintf("attach netns:bt-i --net dnsbench-k (%d names over %d networks)", p.DNSNames, dnsNets)})
	if err := repeat(ctx, att, 1, p.DNSNames, func(i int) (Sample, error) {
		return w.attachTo(dnsNetName((i-1)/perNet), i)
	}); err != nil {
		return err
	}
	pid, err := daemonPID(p.runDir(), p.Plumb)
	if err != nil {
		return err
	}
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if !strings.Contains("\x00"+string(env)+"\x00", "\x00PLUMB_DNS_UPSTREAM=none\x00") {
		return fmt.Errorf("the plumb daemon (pid %d) was not started with PLUMB_DNS_UPSTREAM=none", pid)
	}
	names, err := w.dnsRecords(p.DNSNames, perNet)
	if err != nil {
		return err
	}
	// Let the attaches' garbage go before the idle figure: a daemon that has
	// been up a moment, not one caught mid-attach.
	time.Sleep(2 * time.Second)
	d.Plumb.RSS, d.Plumb.HWM = procMem(pid)
	d.PlumbPID = pid

	client := p.target(dnsClient)
	var clientIP netip.Addr
	for _, n := range names {
		if n.Name == client {
			clientIP = n.IP
		}
	}
	pfx := netip.MustParsePrefix(dnsSubnet(0))
	gw := pfx.Addr().Next() // plumb's default gateway: the subnet's first address
	qfile := filepath.Join(p.TmpDir, "dns-queries.txt")
	var q strings.Builder
	for _, n := range names {
		fmt.Fprintf(&q, "%s A\n", n.Name)
	}
	if err := os.WriteFile(qfile, []byte(q.String()), 0o644); err != nil {
		return err
	}
	d.QueryNames, d.Client, d.ClientIP, d.Gateway = len(names), client, clientIP.String(), gw.String()

	lo := netip.MustParseAddr("127.0.0.11")
	for _, s := range []struct {
		key, label string
		addr       netip.Addr
	}{
		{"plumb.lo", "plumb daemon @127.0.0.11 (in the client's netns)", lo},
		{"plumb.gw", fmt.Sprintf("plumb daemon @%s (gateway, over the veth)", gw), gw},
	} {
		if err := verifyAnswers(client, s.addr, names); err != nil {
			return fmt.Errorf("%s: %w", s.label, err)
		}
		if err := w.dnsLoad(ctx, d, s.key, s.label, client, s.addr, pid, qfile, names); err != nil {
			return err
		}
	}
	d.Plumb.RSSAfter, d.Plumb.HWMAfter = procMem(pid)

	// Tear plumb down: removing the networks detaches everything, and the
	// daemon exits once none is left.
	for k := 0; k < dnsNets; k++ {
		if _, err := w.plumb("network", "rm", "--force", dnsNetName(k)); err != nil {
			return err
		}
	}
	if n := stopDaemon(p.runDir(), p.Plumb, 15*time.Second); n != "" {
		d.note("%s", n)
	}

	if p.AardvarkSkip != "" {
		d.AardvarkSkip = p.AardvarkSkip
		return nil
	}
	return w.aardvarkPeer(ctx, d, names, pfx, gw, client, clientIP, qfile)
}

// dnsRecords checks with `plumb dns ls` that the daemon serves every name,
// and returns the client's network's names in order.
func (w *worker) dnsRecords(total, perNet int) ([]dnsName, error) {
	if _, err := w.plumb("dns", "ls", "--format", "json"); err != nil {
		return nil, err
	}
	var recs []struct{ Network, Name, IP string }
	if err := json.Unmarshal([]byte(w.run.Output()), &recs); err != nil {
		return nil, fmt.Errorf("reading plumb dns ls --format json: %w", err)
	}
	if len(recs) != total {
		return nil, fmt.Errorf("plumb dns ls lists %d names, want %d", len(recs), total)
	}
	ips := map[string]string{}
	for _, r := range recs {
		if r.Network == dnsNetName(0) {
			ips[r.Name] = r.IP
		}
	}
	var names []dnsName
	for i := 1; i <= perNet; i++ {
		n := w.plan.target(i)
		ip, err := netip.ParseAddr(ips[n])
		if err != nil {
			return nil, fmt.Errorf("plumb dns ls: no address for %s on %s", n, dnsNetName(0))
		}
		names = append(names, dnsName{n, ip})
	}
	return names, nil
}

// dnsLoad runs dnsperf, then the Go client, against server from the netns
// ns, recording the CPU time pid (the server) used meanwhile.
func (w *worker) dnsLoad(ctx context.Context, d *DNSResults, key, label, ns string, server netip.Addr, pid int, qfile string, names []dnsName) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	logf("  dns: dnsperf against %s", label)
	r, err := runDNSPerf(w.plan, ns, server, qfile, pid)
	if err != nil {
		return fmt.Errorf("dnsperf against %s: %w", label, err)
	}
	r.Key, r.Server = key, label
	d.Perf = append(d.Perf, r)
	if err := ctx.Err(); err != nil {
		return err
	}
	logf("  dns: Go client against %s", label)
	g, err := runGoClient(ns, server, names, time.Duration(w.plan.DNSSecs)*time.Second, pid)
	if err != nil {
		return fmt.Errorf("Go client against %s: %w", label, err)
	}
	g.Key, g.Server = key, label
	d.Go = append(d.Go, g)
	return nil
}

// aardvarkPeer serves the client network's names with aardvark-dns the way
// netavark sets it up: a config dir with one file per network, the server
// bound to the gateway address of a bridge in the host netns, the client
// plugged into the bridge by a veth. The bridge, gateway, client address and
// names are plumb's, on the same namespace, now that plumb has let go of
// them.
func (w *worker) aardvarkPeer(ctx context.Context, d *DNSResults, names []dnsName, pfx netip.Prefix, gw netip.Addr, client string, clientIP netip.Addr, qfile string) error {
	p := w.plan
	dir := filepath.Join(p.TmpDir, "aardvark")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// First line: the bind (gateway) addresses, then the network's upstream
	// servers; then "ID IPv4 IPv6 NAME[,ALIAS...]" per container.
	var conf strings.Builder
	fmt.Fprintf(&conf, "%s %s\n", gw, aardvarkUpstream)
	for i, n := range names {
		fmt.Fprintf(&conf, "%064x %s  %s\n", i+1, n.IP, n.Name)
	}
	if err := os.WriteFile(filepath.Join(dir, aardvarkNet), []byte(conf.String()), 0o644); err != nil {
		return err
	}

	w.cleanup.Push(func() { _, _ = sh("ip", "link", "del", aardvarkBridge) })
	w.cleanup.Push(func() { _, _ = sh("ip", "link", "del", aardvarkVeth) })
	bits := strconv.Itoa(pfx.Bits())
	for _, argv := range [][]string{
		{"ip", "link", "add", aardvarkBridge, "type", "bridge"},
		{"ip", "addr", "add", gw.String() + "/" + bits, "dev", aardvarkBridge},
		{"ip", "link", "set", aardvarkBridge, "up"},
		{"ip", "link", "add", aardvarkVeth, "master", aardvarkBridge, "up", "type", "veth", "peer", "name", "eth0", "netns", client},
		{"ip", "-n", client, "addr", "add", clientIP.String() + "/" + bits, "dev", "eth0"},
		{"ip", "-n", client, "link", "set", "eth0", "up"},
	} {
		if _, err := sh(argv...); err != nil {
			return err
		}
	}

	// `aardvark-dns run` forks: the parent exits once the child serves,
	// and the child writes its pid to DIR/aardvark.pid. Its log is outside
	// DIR, where every file is read as a network.
	logPath := filepath.Join(p.TmpDir, "aardvark.log")
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(aardvarkBin, "--config", dir, "-p", "53", "run")
	cmd.Stdout, cmd.Stderr = lf, lf
	err = cmd.Run()
	lf.Close()
	if b, rerr := os.ReadFile(filepath.Join(dir, "aardvark.pid")); rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && isAardvark(pid, dir) {
			w.cleanup.Push(func() {
				if n := stopAardvark(pid, dir); n != "" {
					d.note("%s", n)
				}
			})
			d.AardvarkPID = pid
		}
	}
	if err != nil || d.AardvarkPID == 0 {
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("starting aardvark-dns: %v: %s", err, tail(b, 400))
	}

	label := fmt.Sprintf("aardvark-dns @%s (gateway, over the veth)", gw)
	if err := verifyAnswers(client, gw, names); err != nil {
		b, _ := os.ReadFile(logPath)
		ss, _ := sh("ss", "-uanp")
		ca, _ := sh("ip", "-n", client, "-br", "addr")
		return fmt.Errorf("%s: %w (aardvark-dns log: %s; sockets: %s; %s: %s)", label, err, tail(b, 300),
			strings.Join(lines(ss), "; "), client, strings.Join(lines(ca), "; "))
	}
	if err := w.dnsLoad(ctx, d, "aardvark.gw", label, client, gw, d.AardvarkPID, qfile, names); err != nil {
		return err
	}
	d.Aardvark.RSSAfter, d.Aardvark.HWMAfter = procMem(d.AardvarkPID)
	if n := stopAardvark(d.AardvarkPID, dir); n != "" {
		d.note("%s", n)
	}
	for _, l := range []string{aardvarkVeth, aardvarkBridge} {
		if _, err := sh("ip", "link", "del", l); err != nil {
			return err
		}
	}
	return nil
}

// isAardvark reports whether pid runs aardvark-dns with config dir dir.
func isAardvark(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return len(args) > 2 && args[0] == aardvarkBin && strings.Contains(string(b), "\x00"+dir+"\x00")
}

// stopAardvark ends the aardvark-dns of dir by its pid: SIGTERM, then
// SIGKILL after 5 s. It returns a line for the report when it had to kill.
func stopAardvark(pid int, dir string) string {
	if !isAardvark(pid, dir) {
		return ""
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !isAardvark(pid, dir) {
			return ""
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Sprintf("aardvark-dns (pid %d) ignored SIGTERM for 5 s: the bench killed it", pid)
}

// stopLeftAardvark ends an aardvark-dns a worker that died left running
// (in the host netns, which it would keep alive); a line for the report if so.
func stopLeftAardvark(p *Plan) []string {
	dir := filepath.Join(p.TmpDir, "aardvark")
	b, err := os.ReadFile(filepath.Join(dir, "aardvark.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !isAardvark(pid, dir) {
		return nil
	}
	stopAardvark(pid, dir)
	return []string{fmt.Sprintf("aardvark-dns (pid %d) was still running after the worker: the bench ended it", pid)}
}

// daemonPID is the pid of the run dir's plumb daemon.
func daemonPID(runDir, plumb string) (int, error) {
	b, err := os.ReadFile(filepath.Join(runDir, "plumb.pid"))
	if err != nil {
		return 0, fmt.Errorf("the plumb daemon's pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !isDaemon(pid, plumb, runDir) {
		return 0, errors.New("the pid in " + filepath.Join(runDir, "plumb.pid") + " is not the bench's plumb daemon")
	}
	return pid, nil
}

// procMem returns VmRSS and VmHWM of pid, in kB (0 when unknown).
func procMem(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// procCPU is the user+sys time pid has used, every thread included.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state): utime is field 14, stime 15
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}
