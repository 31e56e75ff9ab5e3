package container

import (
	"context"
	"fmt"

	"github.com/plumbnet/plumb/docker"
)

// Target is a resolved attach target: where its netns is, who it is, and the
// files behind its /etc/hosts and /etc/resolv.conf.
type Target struct {
	Spec          string // as the user gave it
	Kind          Kind
	NetNSPath     string // open this for the netns: /proc/PID/ns/net, /var/run/netns/NAME, or the given path
	PID           int    // 0 when unknown
	ContainerID   string // docker: full 64-hex id
	ContainerName string // docker: name without leading "/"; netns: NAME; otherwise ""
	Hostname      string // docker: Config.Hostname; netns: NAME; pid: the process's /etc/hostname, if readable
	HostsFile     File   // nil when there is no file plumb may write
	ResolvFile    File   // nil when there is no file plumb may write
	// Key identifies "the same target" across specs and runs: the container
	// id for docker, otherwise "ns-<cookie>" of the netns (NetNSKey), so that
	// pid:N, netns:NAME and a path naming one netns share a key.
	Key string
}

// Resolver resolves targets. The zero value is ready to use.
type Resolver struct {
	// Docker is the client for container targets. When nil, one client built
	// from $DOCKER_HOST is shared by the whole process: [docker.Default].
	Docker *docker.Client
}

// Resolve is [Resolver.Resolve] with the zero Resolver.
func Resolve(ctx context.Context, spec string) (*Target, error) {
	var r Resolver
	return r.Resolve(ctx, spec)
}

// Resolve turns spec into a Target:
//
//	pid:N, /proc/N/ns/net                   the process N; netns /proc/N/ns/net
//	netns:NAME, /var/run/netns/NAME,
//	/run/netns/NAME                         the named netns /var/run/netns/NAME
//	any other absolute path                 that netns file, with no files
//	anything else                           a Docker container name or id
//
// (so "/web" is a path, never a container). It checks that the netns exists
// and is a network namespace, and that a container is running. Only the
// Docker kind makes a network call, to the Engine API, bounded by ctx and a
// 5 s timeout. Errors wrap ErrInvalidTarget, ErrNotFound, ErrNotRunning or
// ErrDockerUnavailable and name the value. Resolve holds nothing open: the
// caller opens NetNSPath, and each File opens its file per Update.
func (r *Resolver) Resolve(ctx context.Context, spec string) (*Target, error) {
	s, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	var t *Target
	switch s.kind {
	case KindPID:
		t, err = resolvePID(s.pid)
	case KindNetNS:
		t, err = resolveNetNS(s.name)
	case KindPath:
		t, err = resolvePath(s.path)
	default:
		t, err = r.resolveDocker(ctx, s.name)
	}
	if err != nil {
		return nil, err
	}
	t.Spec = spec
	return t, nil
}

// resolveDocker asks the Engine API about ref.
func (r *Resolver) resolveDocker(ctx context.Context, ref string) (*Target, error) {
	c := r.Docker
	if c == nil {
		var err error
		if c, err = docker.Default(); err != nil {
			return nil, fmt.Errorf("resolving container %q: %w", ref, err)
		}
	}
	info, err := c.InspectContainer(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !info.Running {
		return nil, fmt.Errorf("container %q is %w", ref, ErrNotRunning)
	}
	t := &Target{
		Kind:          KindDocker,
		PID:           info.Pid,
		ContainerID:   info.ID,
		ContainerName: info.Name,
		Hostname:      info.Hostname,
		Key:           info.ID,
	}
	switch {
	case info.Pid > 0:
		t.NetNSPath = procPath(info.Pid, "ns/net")
	case info.SandboxKey != "":
		t.NetNSPath = info.SandboxKey
	default:
		return nil, fmt.Errorf("container %q is running but docker reports neither a pid nor a sandbox key", ref)
	}
	if info.HostsPath != "" {
		t.HostsFile = &hostFile{path: info.HostsPath}
	}
	if info.ResolvConfPath != "" {
		t.ResolvFile = &hostFile{path: info.ResolvConfPath}
	}
	return t, nil
}
