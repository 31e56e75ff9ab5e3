package network

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/plumbnet/plumb/docker"
)

// SandboxLabel marks a holder container plumb made; its value is the
// absolute state directory whose endpoints the holder's namespace carries,
// so that two state directories (tests, several users) never touch each
// other's sandboxes.
const SandboxLabel = "org.plumbnet.plumb.sandbox"

// A sandbox is Kubernetes' pause pattern with plumb as the pause: a tiny
// holder container, started with --network=none from an image plumb
// imports from its own binary, runs `plumb hold` and keeps a network
// namespace that plumb attaches before any application starts. Application
// containers join it with `docker run --network=container:NAME` and find
// their address, routes, names (Docker gives them the holder's /etc/hosts
// and resolv.conf) and published ports ready; restarting them keeps all of
// it, because the holder keeps the namespace.

// Sandbox is one holder container of this state directory.
type Sandbox struct {
	Name        string      `json:"name"`
	ContainerID string      `json:"containerId"`
	Running     bool        `json:"running"`
	Endpoints   []*Endpoint `json:"endpoints"`
}

// validSandboxName: a Docker container name that is also a host name and a
// DNS label: 2-63 of [a-zA-Z0-9_.-], starting and ending with a letter or
// digit.
func validSandboxName(s string) bool {
	if len(s) < 2 || len(s) > 63 || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func (m *Manager) docker() (*docker.Client, error) {
	if m.Docker != nil {
		return m.Docker, nil
	}
	return docker.Default()
}

// sandboxOwner is the label value of this state directory's holders.
func (m *Manager) sandboxOwner() string {
	if abs, err := filepath.Abs(m.StateDir); err == nil {
		return abs
	}
	return m.StateDir
}

// checkHolder refuses a container that is not a holder of this state
// directory: plumb never starts, stops or removes anybody else's container.
func (m *Manager) checkHolder(name string, info *docker.ContainerInfo) error {
	owner, ok := info.Labels[SandboxLabel]
	if !ok {
		return fmt.Errorf("container %q %w and is not a plumb sandbox", name, ErrExists)
	}
	if owner != m.sandboxOwner() {
		return fmt.Errorf("sandbox %q belongs to state directory %s, not %s", name, owner, m.sandboxOwner())
	}
	return nil
}

// CreateSandbox starts the holder container name and attaches it to
// o.Network with o's options: the equivalent of
//
//	docker run -d --name NAME --hostname NAME --network=none plumb/sandbox:HASH   # runs `plumb hold`
//	plumb attach NAME --net NETWORK [--ip ...] [--alias ...]
//
// The holder image is imported from the running plumb binary the first
// time. A holder that exists already is started if it was stopped and
// attached if it was not (a restarted holder gets its address back);
// already reports that it was running and attached, and nothing changed.
// On error nothing of the call is left: a holder it made is removed, one
// it started is stopped again.
func (m *Manager) CreateSandbox(ctx context.Context, name string, o AttachOptions) (_ *Endpoint, already bool, err error) {
	if !validSandboxName(name) {
		return nil, false, fmt.Errorf("sandbox name %q: %w: use 2-63 letters, digits, '_', '.' and '-', starting and ending with a letter or digit", name, ErrInvalid)
	}
	if err := ValidateName(o.Network); err != nil {
		return nil, false, err
	}
	// Check the network and the options before any container exists.
	n, err := m.Get(o.Network)
	if err != nil {
		return nil, false, err
	}
	if err := validateAttach(n, &o); err != nil {
		return nil, false, err
	}
	dc, err := m.docker()
	if err != nil {
		return nil, false, err
	}

	var u undo
	defer func() {
		if err != nil {
			if uerr := u.run(); uerr != nil {
				err = fmt.Errorf("%w (rollback: %v)", err, uerr)
			}
		}
	}()
	// Rollback must run even when ctx was cancelled (Ctrl-C).
	bg := context.WithoutCancel(ctx)

	info, err := dc.InspectContainer(ctx, name)
	switch {
	case err == nil:
		if err := m.checkHolder(name, info); err != nil {
			return nil, false, err
		}
		if !info.Running {
			if err := dc.StartContainer(ctx, info.ID); err != nil {
				return nil, false, err
			}
			id := info.ID
			u.push(func() error { return dc.StopContainer(bg, id, 0) })
		}
	case errors.Is(err, docker.ErrNotFound):
		id, err := m.createHolder(ctx, dc, name)
		if err != nil {
			return nil, false, err
		}
		u.push(func() error { return dc.RemoveContainer(bg, id) })
		if err := dc.StartContainer(ctx, id); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, err
	}

	ep, already, err := m.Attach(ctx, name, o)
	if err != nil {
		return nil, false, fmt.Errorf("sandbox %q: %w", name, err)
	}
	return ep, already && len(u) == 0, nil
}

// createHolder creates (does not start) the holder container name. The
// image is checked, and imported if needed, first; if another plumb build
// pruned it in between, it is imported again once.
func (m *Manager) createHolder(ctx context.Context, dc *docker.Client, name string) (string, error) {
	var err error
	for try := 0; try < 2; try++ {
		var image, id string
		if image, err = ensureSandboxImage(ctx, dc); err != nil {
			return "", err
		}
		id, err = dc.CreateContainer(ctx, docker.ContainerSpec{
			Name: name, Image: image, Hostname: name, NetworkMode: "none",
			Labels: map[string]string{SandboxLabel: m.sandboxOwner()}, Hardened: true,
		})
		if !errors.Is(err, docker.ErrNotFound) {
			return id, err
		}
	}
	return "", err
}

// RemoveSandbox detaches the holder name from every network and removes it:
// `plumb detach NAME; docker rm -f NAME`. Application containers that
// joined its namespace keep running, without the network. Removing a
// sandbox that is gone is success (removed false); its stale endpoints, if
// any, are cleared. Containers that are not this state directory's holders
// are refused.
func (m *Manager) RemoveSandbox(ctx context.Context, name string) (eps []*Endpoint, removed bool, err error) {
	dc, err := m.docker()
	if err != nil {
		return nil, false, err
	}
	info, err := dc.InspectContainer(ctx, name)
	if errors.Is(err, docker.ErrNotFound) {
		eps, derr := m.Detach(ctx, name, "")
		if errors.Is(derr, ErrNotAttached) {
			derr = nil
		}
		return eps, false, derr
	}
	if err != nil {
		return nil, false, err
	}
	if err := m.checkHolder(name, info); err != nil {
		return nil, false, err
	}
	eps, derr := m.Detach(ctx, info.ID, "")
	if errors.Is(derr, ErrNotAttached) {
		derr = nil
	}
	if err := dc.RemoveContainer(context.WithoutCancel(ctx), info.ID); err != nil {
		return eps, false, errors.Join(derr, err)
	}
	if derr != nil {
		// With the namespace gone, detach needs no file of the container:
		// a second pass clears what the first could not.
		more, err := m.Detach(ctx, info.ID, "")
		if err == nil || errors.Is(err, ErrNotAttached) {
			derr = nil
		} else {
			derr = err
		}
		eps = append(eps, more...)
	}
	return eps, true, derr
}

// Sandboxes lists this state directory's holder containers, running or
// not, by name, each with its endpoints.
func (m *Manager) Sandboxes(ctx context.Context) ([]*Sandbox, error) {
	dc, err := m.docker()
	if err != nil {
		return nil, err
	}
	list, err := dc.ListContainers(ctx, SandboxLabel)
	if err != nil {
		return nil, err
	}
	all, err := m.AllEndpoints("")
	if err != nil {
		return nil, err
	}
	owner := m.sandboxOwner()
	var out []*Sandbox
	for _, c := range list {
		if c.Labels[SandboxLabel] != owner {
			continue
		}
		sb := &Sandbox{Name: c.Name, ContainerID: c.ID, Running: c.Running, Endpoints: []*Endpoint{}}
		for _, ep := range all {
			if ep.ContainerID == c.ID {
				sb.Endpoints = append(sb.Endpoints, ep)
			}
		}
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
