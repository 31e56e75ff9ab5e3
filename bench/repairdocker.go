package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The repair section's Docker part, the supervisor's (Docker works in the
// real host's netns): a `--network=none` container attached by plumb with
// a published port, against one on a Docker bridge network with `-p`, both
// restarted with `docker restart -t 0`, taking turns.
const (
	repairDockerNet      = "repair-docker" // the plumb network, in the bench's host netns
	repairDockerSubnet   = "10.233.1.0/24"
	repairDockerHostPort = 20081
)

// httpdCmd is both containers' command: busybox httpd serving a page on
// port 80, from the container's start.
var httpdCmd = []string{"sh", "-c", "mkdir -p /www && echo ok >/www/index.html && exec httpd -f -p 80 -h /www"}

// restartCtr is one of the two containers at run time.
type restartCtr struct {
	d       *driftRun
	name    string
	restart *Series // the `docker restart` command's own wall time
	event   *Series // Docker's start event → every probe answers
}

// repairDocker times `docker restart` → reachable for the two containers.
func repairDocker(ctx context.Context, p *Plan, cl *Cleanup, res *Results) error {
	if res.Repair == nil {
		res.Repair = &RepairResults{Bound: p.RepairBound, Pace: p.RepairPace, Skips: map[string]string{}}
	}
	r := res.Repair
	if r.Skips == nil {
		r.Skips = map[string]string{}
	}
	if p.DockerSkip != "" {
		r.Skips["repair-docker"] = p.DockerSkip
		return nil
	}
	if p.RepairDockerN == 0 {
		r.Skips["repair-docker"] = "-repair-docker-n 0"
		return nil
	}
	cl.Push(func() { _, _ = removeDockerObjects(p.labelled()) })
	events, err := watchStarts(p, cl)
	if err != nil {
		return err
	}
	pl, err := plumbRestartCtr(p, cl, res, events)
	if err != nil {
		return fmt.Errorf("the container attached by plumb: %w", err)
	}
	dk, err := dockerRestartCtr(p, cl, res, events)
	if err != nil {
		return fmt.Errorf("the container on a Docker network: %w", err)
	}
	logf("repair: %d `docker restart`s of each container, taking turns; each wait at most %v", p.RepairDockerN, p.RepairBound)
	for j := 1; j <= p.RepairDockerN; j++ {
		order := []*restartCtr{pl, dk}
		if j%2 == 0 {
			order[0], order[1] = dk, pl
		}
		for _, c := range order {
			if c.d.active() {
				if err := c.d.round(ctx, p, p.RepairBound, j); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// plumbRestartCtr starts a `--network=none` container and attaches it
// with plumb, publishing port 80 on the bench netns's 127.0.0.1.
func plumbRestartCtr(p *Plan, cl *Cleanup, res *Results, ev *startEvents) (*restartCtr, error) {
	run := &Runner{Log: filepath.Join(p.TmpDir, "repair-docker.log"), Env: []string{"PLUMB_DNS_UPSTREAM=none"}, Netns: netnsPath(p.Host)}
	plumb := func(args ...string) error { _, err := run.Run("", nil, plumbArgv(p, args...)...); return err }
	if err := plumb("network", "create", repairDockerNet, "--subnet", repairDockerSubnet); err != nil {
		return nil, err
	}
	cl.Push(func() {
		_ = plumb("network", "rm", "--force", repairDockerNet)
		_ = stopDaemon(p.runDir(), p.Plumb, 10*time.Second)
	})
	name := p.dockerName("rplumb")
	if err := runHTTPContainer(p, name, "none"); err != nil {
		return nil, err
	}
	hp := fmt.Sprintf("127.0.0.1:%d", repairDockerHostPort)
	if err := plumb("attach", name, "--net", repairDockerNet, "-p", hp+":80"); err != nil {
		return nil, err
	}
	ip, err := plumbContainerIP(p, name)
	if err != nil {
		return nil, err
	}
	bench, err := newNSThread(netnsPath(p.Host), 2)
	if err != nil {
		return nil, err
	}
	cl.Push(bench.close)
	return newRestartCtr(p, res, ev, name, "plumb", "a `--network=none` container attached by plumb (`plumb attach -p "+hp+":80`)", []probe{
		{"its published port (" + hp + ", the bench netns)", func() error { return bench.httpAnswers(hp) }},
		{"its address (" + ip + ":80)", func() error { return bench.httpAnswers(ip + ":80") }},
	}), nil
}

// dockerRestartCtr starts a container on a Docker bridge network with
// port 80 published on the real host's 127.0.0.1.
func dockerRestartCtr(p *Plan, cl *Cleanup, res *Results, ev *startEvents) (*restartCtr, error) {
	dnet := p.dockerName("repair")
	if err := createDockerNetwork(p, res, dnet, p.DockerSubnets[4]); err != nil {
		return nil, err
	}
	name := p.dockerName("rdocker")
	// A fixed host port: Docker gives an ephemeral one (-p 127.0.0.1::80)
	// anew at every start.
	port, err := freeLocalPort()
	if err != nil {
		return nil, err
	}
	hp := fmt.Sprintf("127.0.0.1:%d", port)
	if err := runHTTPContainer(p, name, dnet, "-p", hp+":80"); err != nil {
		return nil, err
	}
	ip, err := containerIP(name, dnet)
	if err != nil {
		return nil, err
	}
	host, err := newNSThread("", 2)
	if err != nil {
		return nil, err
	}
	cl.Push(host.close)
	return newRestartCtr(p, res, ev, name, "docker", "a container on a Docker bridge network (`docker run -p "+hp+":80`)", []probe{
		{"its published port (" + hp + ", the real host; docker-proxy)", func() error { return host.httpAnswers(hp) }},
		{"its address (" + ip + ":80)", func() error { return host.httpAnswers(ip + ":80") }},
	}), nil
}

// newRestartCtr registers the container's variant and series: key
// repair.docker.KIND, the restart command's wall time in .restart, and
// the time from Docker's start event in .event.
func newRestartCtr(p *Plan, res *Results, ev *startEvents, name, kind, what string, probes []probe) *restartCtr {
	key := "repair.docker." + kind
	tool := "plumb daemon"
	if kind == "docker" {
		tool = "Docker"
	}
	c := &restartCtr{name: name}
	c.restart = res.add(&Series{Key: key + ".restart", Tool: tool, Op: "`docker restart -t 0` itself (wall)"})
	var began time.Time
	c.d = newDrift(res, res.Repair, key, tool, what+": `docker restart -t 0` → every probe answers",
		"docker restart returned → reachable", probes, func() error {
			began = time.Now()
			_, err := docker("restart", "-t", "0", name)
			c.restart.Samples = append(c.restart.Samples, Sample{Wall: time.Since(began)})
			return err
		})
	c.event = res.add(&Series{Key: key + ".event", Tool: tool, Op: "Docker's start event → reachable"})
	c.d.cpu = kind == "plumb"
	if kind == "docker" {
		c.d.pace.perMin = 0 // no plumb daemon guard to keep out of
	}
	c.d.answered = func(at time.Time) {
		if t, ok := ev.startAfter(name, began, 2*time.Second); ok {
			c.event.Samples = append(c.event.Samples, Sample{Wall: at.Sub(t)})
		} else if len(c.d.v.Errs) < 3 {
			c.d.v.Errs = append(c.d.v.Errs, "no start event of "+name+" seen after a restart")
		}
	}
	return c
}

// freeLocalPort is a TCP port free on the real host's 127.0.0.1 now.
func freeLocalPort() (int, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// runHTTPContainer starts a labelled busybox container running httpdCmd on
// network net, with extra docker run flags.
func runHTTPContainer(p *Plan, name, net string, flags ...string) error {
	args := append([]string{"run", "-d", "--label", dockerLabel + "=" + p.Label, "--network", net, "--name", name}, flags...)
	_, err := docker(append(append(args, p.DockerImage), httpdCmd...)...)
	return err
}

// plumbContainerIP is the address plumb gave the container, from plumb ps.
func plumbContainerIP(p *Plan, name string) (string, error) {
	rows, err := readPS(p)
	if err != nil {
		return "", err
	}
	for _, r := range rows {
		if r.ContainerName == name || strings.TrimPrefix(r.ContainerName, "/") == name {
			ip, _, _ := strings.Cut(r.IP, "/")
			return ip, nil
		}
	}
	return "", fmt.Errorf("plumb ps lists no endpoint of container %s", name)
}

// startEvents follows Docker's start events of the run's containers.
// Equivalent to: `docker events --filter label=L --filter event=start`.
type startEvents struct {
	mu sync.Mutex
	at map[string][]time.Time // container name -> its start events
}

// watchStarts starts `docker events` and registers its end (by its pid).
func watchStarts(p *Plan, cl *Cleanup) (*startEvents, error) {
	e := &startEvents{at: map[string][]time.Time{}}
	cmd := exec.Command("docker", "events", "--filter", p.labelled(), "--filter", "event=start",
		"--format", "{{.Actor.Attributes.name}} {{.TimeNano}}")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("docker events: %w", err)
	}
	cl.Push(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				continue
			}
			e.mu.Lock()
			e.at[f[0]] = append(e.at[f[0]], time.Unix(0, ns))
			e.mu.Unlock()
		}
	}()
	return e, nil
}

// startAfter is the first start event of the container name at or after
// t, waiting up to wait for it to arrive.
func (e *startEvents) startAfter(name string, t time.Time, wait time.Duration) (time.Time, bool) {
	for t0 := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		e.mu.Lock()
		for _, x := range e.at[name] {
			if !x.Before(t.Round(0)) {
				e.mu.Unlock()
				return x, true
			}
		}
		e.mu.Unlock()
		if time.Since(t0) > wait {
			return time.Time{}, false
		}
	}
}
