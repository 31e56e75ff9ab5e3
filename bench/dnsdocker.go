package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dockerDNS is the supervisor's step after the worker: Docker's embedded
// DNS serving the same names the worker's DNS benchmark queried, loaded by
// the same dnsperf and Go client from inside a container's netns. Docker
// runs on the real host, so this step cannot live in the worker. One
// labelled busybox container per name sits on a labelled bridge network
// with the name as its --network-alias; the client is the first of them,
// entered by its /proc/PID/ns/net, and the server is 127.0.0.11 there,
// which Docker DNATs to dockerd's listener in the same netns.
//
// Nothing is forwarded: every query is a name on the network, and the
// containers' only upstream is 127.0.0.1 (--dns), which Docker asks from
// the host's loopback, so a forward would stay on the machine.
func dockerDNS(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	d := res.DNS
	if d == nil || d.Skip != "" || len(d.Perf) == 0 {
		return nil
	}
	if p.DockerSkip != "" {
		d.DockerSkip = p.DockerSkip
		return nil
	}
	qfile := filepath.Join(p.TmpDir, "dns-queries.txt")
	if _, err := os.Stat(qfile); err != nil {
		d.DockerSkip = "the worker's query file is missing: " + err.Error()
		return nil
	}
	pid, err := dockerdPID()
	if err != nil {
		d.DockerSkip = err.Error()
		return nil
	}

	net := p.dockerName("dns")
	ctrs := make([]string, d.QueryNames)
	for i := range ctrs {
		ctrs[i] = p.dockerName("dns" + strconv.Itoa(i+1))
	}
	cl.Push(func() { removeDNSContainers(net, ctrs) })
	if err := createDockerNetwork(p, res, net, p.DockerSubnets[3]); err != nil {
		return err
	}
	logf("  dns: %d containers on a Docker network for its embedded DNS", len(ctrs))
	names := make([]dnsName, len(ctrs))
	var mu sync.Mutex
	var errs []error
	parallel(4, len(ctrs), func(i int) {
		if ctx.Err() != nil {
			return
		}
		alias := p.target(i + 1) // the worker's i+1-th name
		_, err := runContainer(p, ctrs[i], net, "--network-alias", alias, "--dns", "127.0.0.1")
		var ip string
		if err == nil {
			ip, err = containerIP(ctrs[i], net)
		}
		a, perr := netip.ParseAddr(ip)
		if err == nil && perr != nil {
			err = fmt.Errorf("container %s: address %q: %w", ctrs[i], ip, perr)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		names[i] = dnsName{Name: alias, IP: a}
	})
	if len(errs) > 0 {
		return fmt.Errorf("starting the DNS containers: %w", errs[0])
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.DockerNames = len(ctrs)
	cpid, err := containerPID(ctrs[0])
	if err != nil {
		return err
	}
	client := procNetns(cpid)
	lo := netip.MustParseAddr("127.0.0.11")
	label := "Docker's embedded DNS @127.0.0.11 (in a container's netns)"
	if err := verifyAnswers(client, lo, names); err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	logf("  dns: dnsperf against %s", label)
	r, err := runDNSPerf(p, client, lo, qfile, pid)
	if err != nil {
		return fmt.Errorf("dnsperf against %s: %w", label, err)
	}
	r.Key, r.Server = "docker.lo", label
	d.Perf = append(d.Perf, r)
	logf("  dns: Go client against %s", label)
	g, err := runGoClient(client, lo, names, time.Duration(p.DNSSecs)*time.Second, pid)
	if err != nil {
		return fmt.Errorf("Go client against %s: %w", label, err)
	}
	g.Key, g.Server = "docker.lo", label
	d.Go = append(d.Go, g)
	removeDNSContainers(net, ctrs)
	return nil
}

// removeDNSContainers removes the DNS step's containers and network; what
// is gone already is no error. Each container is disconnected before it is
// removed: after a 100-container `docker rm -f`, dockerd 20.10 kept a stale
// endpoint on the network and refused to remove it ("has active
// endpoints") until dockerd restarted.
func removeDNSContainers(net string, ctrs []string) {
	parallel(4, len(ctrs), func(i int) {
		_, _ = docker("network", "disconnect", "-f", net, ctrs[i])
		_, _ = docker("rm", "-f", ctrs[i])
	})
	for i := 0; i < 20; i++ {
		out, err := docker("network", "rm", net)
		if err == nil || strings.Contains(out, "not found") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dockerdPID is the pid of the running dockerd, whose CPU time is the
// embedded DNS server's (it serves every container's 127.0.0.11).
func dockerdPID() (int, error) {
	for _, f := range []string{"/run/docker.pid", "/var/run/docker.pid"} {
		if b, err := os.ReadFile(f); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && isComm(pid, "dockerd") {
				return pid, nil
			}
		}
	}
	out, err := stdout("pgrep", "-xo", "dockerd")
	if pid, perr := strconv.Atoi(strings.TrimSpace(out)); err == nil && perr == nil {
		return pid, nil
	}
	return 0, fmt.Errorf("no dockerd process found (pgrep -xo dockerd: %v)", err)
}

// isComm reports whether pid's command name is comm.
func isComm(pid int, comm string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == comm
}
