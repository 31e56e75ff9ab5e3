package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The overlay section's lab (issue 18): three "hosts" (namespaces
// HOST-o1..o3) on an underlay bridge (in HOST-ou, 10.232.0.N/24), each
// with its own etcd member of one 3-member cluster, its own plumb-cluster
// agent on its local member, and its own plumb state and run dirs under
// the run's temp dir. Everything is undone by the run's Cleanup.
const (
	ovUnderlay    = "10.232.0." // + host number, /24
	ovNet         = "ovb"
	ovSubnet      = "10.234.0.0/24"
	ovLocalNet    = "ovlocal" // a plain bridge network on h1, the attach baseline
	ovLocalSubnet = "10.233.0.0/24"
	ovBareVNI     = "4242" // the bare VXLAN pair between h1 and h2
	ovBareA       = "10.231.0.1/24"
	ovBareB       = "10.231.0.2/24"
	etcdBin       = "/usr/bin/etcd"
)

// ovLab is the running lab.
type ovLab struct {
	p      *Plan
	cl     *Cleanup
	hosts  []string // netns names
	under  string
	agent  string // the plumb-cluster binary
	runner []*Runner
	ntgt   int // targets made so far
}

// ovHost is the name of host i (0-based) as the store knows it.
func ovHost(i int) string { return fmt.Sprintf("h%d", i+1) }

// ovAddr is host i's underlay address.
func ovAddr(i int) string { return fmt.Sprintf("%s%d", ovUnderlay, i+1) }

// dir is host i's directory under the run's temp dir.
func (l *ovLab) dir(i int, sub string) string {
	return filepath.Join(l.p.TmpDir, "overlay", ovHost(i), sub)
}

// plumbArgv is the command line of plumb on host i.
func (l *ovLab) plumbArgv(i int, args ...string) []string {
	return append([]string{l.p.Plumb, "--state-dir", l.dir(i, "state"), "--run-dir", l.dir(i, "run")}, args...)
}

// plumb runs plumb on host i, timed, from a thread inside its netns.
func (l *ovLab) plumb(i int, args ...string) (Sample, error) {
	return l.runner[i].Run("", nil, l.plumbArgv(i, args...)...)
}

// newOvLab builds the lab: namespaces, underlay, etcd, agents, and the
// overlay network (created through h1's member) listed on every host.
func newOvLab(ctx context.Context, p *Plan, cl *Cleanup) (*ovLab, error) {
	l := &ovLab{p: p, cl: cl, under: p.Host + "-ou", agent: filepath.Join(filepath.Dir(p.Plumb), "plumb-cluster")}
	if _, err := os.Stat(l.agent); err != nil {
		return nil, fmt.Errorf("no plumb-cluster beside %s (make build builds it): %w", p.Plumb, err)
	}
	if _, err := os.Stat(etcdBin); err != nil {
		return nil, fmt.Errorf("no etcd server (%s; apt-get install etcd-server): %w", etcdBin, err)
	}
	if err := l.underlay(); err != nil {
		return nil, err
	}
	for i := range l.hosts {
		if err := l.startEtcd(i); err != nil {
			return nil, err
		}
	}
	for i := range l.hosts {
		if err := l.startAgent(i); err != nil {
			return nil, err
		}
	}
	if err := l.createNet(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// underlay makes the underlay bridge and the three hosts on it.
// Equivalent to: `ip -n U link add ubr type bridge; ip -n U link add uN
// type veth peer name eth0 netns HN; ip -n HN addr add 10.232.0.N/24 dev eth0`.
func (l *ovLab) underlay() error {
	if err := addNetns(l.under); err != nil {
		return err
	}
	l.cl.Push(func() { _ = delNetns(l.under) })
	if _, err := shAll([][]string{{"ip", "-n", l.under, "link", "add", "ubr", "type", "bridge"}, {"ip", "-n", l.under, "link", "set", "ubr", "up"}}); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		h := fmt.Sprintf("%s-o%d", l.p.Host, i+1)
		if err := addNetns(h); err != nil {
			return err
		}
		l.cl.Push(func() { _ = delNetns(h) })
		l.hosts = append(l.hosts, h)
		l.runner = append(l.runner, &Runner{Log: filepath.Join(l.p.TmpDir, "overlay-"+ovHost(i)+".log"),
			Env: []string{"PLUMB_DNS_UPSTREAM=none"}, Netns: netnsPath(h)})
		port := fmt.Sprintf("u%d", i+1)
		if _, err := shAll([][]string{
			{"ip", "-n", l.under, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h},
			{"ip", "-n", l.under, "link", "set", port, "master", "ubr", "up"},
			{"ip", "-n", h, "addr", "add", ovAddr(i) + "/24", "dev", "eth0"},
			{"ip", "-n", h, "link", "set", "eth0", "up"},
			{"ip", "-n", h, "link", "set", "lo", "up"},
		}); err != nil {
			return err
		}
		for _, d := range []string{"state", "run", "etcd"} {
			if err := os.MkdirAll(l.dir(i, d), 0o755); err != nil {
				return err
			}
		}
	}
	return nil
}

// shAll runs each argv in turn, stopping at the first failure.
func shAll(argvs [][]string) (string, error) {
	var all strings.Builder
	for _, argv := range argvs {
		out, err := sh(argv...)
		all.WriteString(out)
		if err != nil {
			return all.String(), err
		}
	}
	return all.String(), nil
}

// startProc starts argv in host i's netns with its output in logName
// under the temp dir, in a process group of its own, and registers its
// end: stop's signal to the group, then SIGKILL after 10 s.
func (l *ovLab) startProc(i int, logName string, stop syscall.Signal, argv ...string) error {
	log, err := os.Create(filepath.Join(l.p.TmpDir, logName))
	if err != nil {
		return err
	}
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdout, c.Stderr = log, log
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if _, err := startIn(netnsPath(l.hosts[i]), c); err != nil {
		log.Close()
		return err
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	l.cl.Push(func() {
		syscall.Kill(-c.Process.Pid, stop)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
		log.Close()
	})
	return nil
}

// startEtcd starts host i's member of the 3-member cluster.
func (l *ovLab) startEtcd(i int) error {
	var initial []string
	for k := range l.hosts {
		initial = append(initial, fmt.Sprintf("e%d=http://%s:2380", k+1, ovAddr(k)))
	}
	peer, client := "http://"+ovAddr(i)+":2380", "http://"+ovAddr(i)+":2379"
	return l.startProc(i, "overlay-etcd-"+ovHost(i)+".log", syscall.SIGKILL, etcdBin,
		"--name", fmt.Sprintf("e%d", i+1), "--data-dir", l.dir(i, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
		"--initial-cluster-token", filepath.Base(l.p.TmpDir), "--logger", "zap", "--log-outputs", "stderr")
}

// startAgent starts host i's plumb-cluster agent on its local member; it
// waits for etcd by itself. Its networks are removed at cleanup, after it
// stopped, with the host's daemon.
func (l *ovLab) startAgent(i int) error {
	l.cl.Push(func() {
		for _, n := range []string{ovNet, ovLocalNet} {
			_, _ = l.plumb(i, "network", "rm", "--force", n)
		}
		_ = stopDaemon(l.dir(i, "run"), l.p.Plumb, 10*time.Second)
	})
	return l.startProc(i, "overlay-agent-"+ovHost(i)+".log", syscall.SIGTERM, l.agent, "agent",
		"--store", "etcd://"+ovAddr(i)+":2379", "--host", ovHost(i), "--underlay", ovAddr(i),
		"--state-dir", l.dir(i, "state"), "--run-dir", l.dir(i, "run"), "--ttl", "5s")
}

// createNet creates the overlay network through h1's member, retrying
// while the cluster comes up, and waits until every host lists it.
func (l *ovLab) createNet(ctx context.Context) error {
	argv := []string{l.agent, "network", "create", ovNet, "--subnet", ovSubnet, "--store", "etcd://" + ovAddr(0) + ":2379"}
	if err := l.poll(ctx, 60*time.Second, "the store to take "+ovNet, func() bool { _, err := l.runner[0].Run("", nil, argv...); return err == nil }); err != nil {
		return fmt.Errorf("%w: %s", err, l.runner[0].Output())
	}
	for i := range l.hosts {
		err := l.poll(ctx, 30*time.Second, ovNet+" on "+ovHost(i), func() bool {
			out, err := sh(append([]string{"ip", "netns", "exec", l.hosts[i]}, l.plumbArgv(i, "network", "ls")...)...)
			return err == nil && strings.Contains(out, ovNet)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// poll calls cond every 10 ms until it holds, for at most d.
func (l *ovLab) poll(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("overlay: no %s after %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// target makes a fresh target namespace, removed at cleanup.
func (l *ovLab) target() (string, error) {
	l.ntgt++
	name := fmt.Sprintf("%s-ot%d", l.p.Host, l.ntgt)
	if err := addNetns(name); err != nil {
		return "", err
	}
	l.cl.Push(func() { _ = delNetns(name) })
	_, err := sh("ip", "-n", name, "link", "set", "lo", "up")
	return name, err
}

// attached makes a target attached to net on host i and returns it with
// its address.
func (l *ovLab) attached(i int, net string) (ns, addr string, err error) {
	if ns, err = l.target(); err != nil {
		return "", "", err
	}
	if _, err = l.plumb(i, "attach", "netns:"+ns, "--net", net); err != nil {
		return "", "", err
	}
	addr, err = nsAddr(ns)
	return ns, addr, err
}
