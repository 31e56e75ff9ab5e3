package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Every Docker object the bench makes carries the label
// org.plumbnet.bench=PID (the supervisor's pid), and is removed by that
// label at the end of the run, and by the next run if this one was killed.
const dockerLabel = "org.plumbnet.bench"

// dockerSubnetCandidates are the subnets the supervisor picks the Docker
// networks' from: the first ones that overlap no route of the real host and
// no Docker network.
var dockerSubnetCandidates = []string{
	"10.245.0.0/16", "10.246.0.0/16", "10.247.0.0/16", "10.248.0.0/16",
	"10.249.0.0/16", "10.250.0.0/16", "172.29.0.0/16", "172.30.0.0/16",
}

// docker runs the docker CLI, untimed, and returns its output.
func docker(args ...string) (string, error) { return sh(append([]string{"docker"}, args...)...) }

// labelled is the docker filter of this run's objects.
func (p *Plan) labelled() string { return "label=" + dockerLabel + "=" + p.Label }

// dockerName names a Docker object of this run: pb<PID>-<what>.
func (p *Plan) dockerName(what string) string { return "pb" + p.Label + "-" + what }

// removeDockerObjects removes, with `docker rm -f` (4 at a time) and
// `docker network rm`, every container and network matching filter. It
// returns how many it did remove and the first error.
func removeDockerObjects(filter string) (int, error) {
	out, err := docker("ps", "-aq", "--filter", filter)
	if err != nil {
		return 0, err
	}
	ids := strings.Fields(out)
	var firstErr error
	removed := 0
	var mu sync.Mutex
	parallel(4, len(ids), func(i int) {
		_, err := docker("rm", "-f", "-v", ids[i])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			removed++
		case !strings.Contains(err.Error(), "No such container") && firstErr == nil:
			firstErr = err
		}
	})
	nets, err := docker("network", "ls", "-q", "--filter", filter)
	if err != nil {
		return removed, err
	}
	for _, n := range strings.Fields(nets) {
		if _, err := docker("network", "rm", n); err == nil {
			removed++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	return removed, firstErr
}

// sweepStaleDocker removes the Docker objects of earlier runs whose
// supervisor is gone (killed before its cleanup), and returns a line for the
// report when there were some.
func sweepStaleDocker() string {
	out, err := docker("ps", "-a", "--filter", "label="+dockerLabel, "--format", `{{.Label "`+dockerLabel+`"}}`)
	if err != nil {
		return ""
	}
	nets, _ := docker("network", "ls", "--filter", "label="+dockerLabel, "--format", `{{.Label "`+dockerLabel+`"}}`)
	seen := map[string]bool{}
	removed := 0
	for _, pid := range append(strings.Fields(out), strings.Fields(nets)...) {
		if seen[pid] || benchAlive(pid) {
			continue
		}
		seen[pid] = true
		n, _ := removeDockerObjects("label=" + dockerLabel + "=" + pid)
		removed += n
	}
	if removed == 0 {
		return ""
	}
	return fmt.Sprintf("removed %d Docker containers and networks an earlier, killed run had left (label %s)", removed, dockerLabel)
}

// benchAlive reports whether a process pid exists: the objects of a run
// are swept only once its supervisor is surely gone. (A recycled pid keeps
// them until that process ends too; better than sweeping a live run's.)
func benchAlive(pid string) bool {
	if _, err := strconv.Atoi(pid); err != nil {
		return true
	}
	_, err := os.Stat(filepath.Join("/proc", pid))
	return err == nil
}

// pickDockerSubnets returns n candidate subnets that overlap no route of this
// (the real host's) netns and no existing Docker network.
func pickDockerSubnets(n int) ([]string, error) {
	var used []netip.Prefix
	if out, err := stdout("ip", "-4", "route", "show", "table", "all"); err == nil {
		for _, l := range lines(out) {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			dst := f[0]
			if dst == "local" || dst == "broadcast" || dst == "unreachable" || dst == "blackhole" {
				if len(f) < 2 {
					continue
				}
				dst = f[1]
			}
			if dst == "default" {
				continue
			}
			if !strings.Contains(dst, "/") {
				dst += "/32"
			}
			if p, err := netip.ParsePrefix(dst); err == nil {
				used = append(used, p)
			}
		}
	}
	if out, err := docker("network", "ls", "-q"); err == nil {
		for _, id := range strings.Fields(out) {
			s, _ := docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", id)
			for _, f := range strings.Fields(s) {
				if p, err := netip.ParsePrefix(f); err == nil {
					used = append(used, p)
				}
			}
		}
	}
	var out []string
	for _, c := range dockerSubnetCandidates {
		p := netip.MustParsePrefix(c)
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
			}
		}
		if free {
			out = append(out, c)
		}
		if len(out) == n {
			return out, nil
		}
	}
	return nil, fmt.Errorf("no %d free subnets among %v (host routes and Docker networks take the others)", n, dockerSubnetCandidates)
}

// createDockerNetwork creates a labelled bridge network and records its
// Linux bridge (br-ID) in res, so that the host check knows it for the
// bench's. Equivalent to: `docker network create --label L --subnet S NAME`.
func createDockerNetwork(p *Plan, res *Results, name, subnet string) error {
	out, err := docker("network", "create", "--driver", "bridge", "--label", dockerLabel+"="+p.Label, "--subnet", subnet, name)
	if id := strings.TrimSpace(out); err == nil && len(id) >= 12 {
		res.DockerBridges = append(res.DockerBridges, "br-"+id[:12])
	}
	return err
}

// runContainer starts a labelled busybox container that sleeps, on network
// net, with extra docker run flags. It returns the container's init pid.
// Equivalent to: `docker run -d --label L --network NET --name NAME IMAGE sleep 1d`.
func runContainer(p *Plan, name, net string, flags ...string) (int, error) {
	args := append([]string{"run", "-d", "--label", dockerLabel + "=" + p.Label, "--network", net, "--name", name}, flags...)
	if _, err := docker(append(args, p.DockerImage, "sleep", "1d")...); err != nil {
		return 0, err
	}
	return containerPID(name)
}

// containerPID is the pid of a running container's init process, whose
// /proc/PID/ns/net is the container's netns.
func containerPID(name string) (int, error) {
	out, err := docker("inspect", "-f", "{{.State.Pid}}", name)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("container %s has no running pid (%q)", name, out)
	}
	return pid, nil
}

// containerIP is the container's address on network net.
func containerIP(name, net string) (string, error) {
	out, err := docker("inspect", "-f", `{{(index .NetworkSettings.Networks "`+net+`").IPAddress}}`, name)
	if err != nil {
		return "", err
	}
	if ip := strings.TrimSpace(out); ip != "" {
		return ip, nil
	}
	return "", fmt.Errorf("container %s has no address on %s", name, net)
}

// parallel runs fn(0..n-1) on k goroutines.
func parallel(k, n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(k, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// memAvailable is MemAvailable from /proc/meminfo, in kB.
func memAvailable() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemAvailable:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}
