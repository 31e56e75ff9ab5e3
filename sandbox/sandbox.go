package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/internal/name"
	"github.com/plumbnet/plumb/network"
)

// Label marks a holder container plumb made; its value is the absolute
// state directory whose endpoints the holder's namespace carries, so that
// two state directories (tests, several users) never touch each other's
// sandboxes.
const Label = "org.plumbnet.plumb.sandbox"

// NetworkLabel, on a holder, names the network the `sandbox create` that
// made it attached it to: what `plumb doctor` tells to finish a create cut
// short before its attach.
const NetworkLabel = "org.plumbnet.plumb.sandbox.network"

// Sandbox is one holder container of this state directory.
type Sandbox struct {
	Name        string              `json:"name"`
	ContainerID string              `json:"containerId"`
	Running     bool                `json:"running"`
	Endpoints   []*network.Endpoint `json:"endpoints"`
	// CreatedFor is the network the holder was made for (NetworkLabel);
	// empty for a holder an older plumb made.
	CreatedFor string `json:"createdFor,omitempty"`
}

// validName: a Docker container name that is also a host name and a DNS
// label: 2-63 of [a-zA-Z0-9_.-], starting and ending with a letter or
// digit.
func validName(s string) bool { return name.Valid(s, 2, 63, true) }

// client is the Engine API client m resolves container targets with, so
// that the holder made here is the container m.Attach then finds.
func client(m *network.Manager) (*docker.Client, error) {
	if m.Docker != nil {
		return m.Docker, nil
	}
	return docker.Default()
}

// owner is the Label value of m's state directory's holders.
func owner(m *network.Manager) string {
	if abs, err := filepath.Abs(m.StateDir); err == nil {
		return abs
	}
	return m.StateDir
}

// checkHolder refuses a container that is not a holder of m's state
// directory: plumb never starts, stops or removes anybody else's container.
func checkHolder(m *network.Manager, name string, info *docker.ContainerInfo) error {
	got, ok := info.Labels[Label]
	if !ok {
		return fmt.Errorf("container %q %w and is not a plumb sandbox", name, network.ErrExists)
	}
	if got != owner(m) {
		return fmt.Errorf("sandbox %q belongs to state directory %s, not %s", name, got, owner(m))
	}
	return nil
}

// Create starts the holder container name and attaches it to o.Network
// with o's options: the equivalent of
//
//	docker run -d --name NAME --hostname NAME --network=none plumb/sandbox:HASH   # runs `plumb hold`
//	plumb attach NAME --net NETWORK [--ip ...] [--alias ...]
//
// The network and the options are checked before any container exists.
// The holder image is imported from the running plumb binary the first
// time. A holder that exists already is started if it was stopped and
// attached if it was not (a restarted holder gets its address back);
// already reports that it was running and attached, and nothing changed.
// On error nothing of the call is left: a holder it made is removed, one
// it started is stopped again.
func Create(ctx context.Context, m *network.Manager, name string, o network.AttachOptions) (_ *network.Endpoint, already bool, err error) {
	dc, err := prepare(m, name, &o)
	if err != nil {
		return nil, false, err
	}

	// undo reverses the one change made to dockerd before the attach:
	// stopping the holder it started, or removing the holder it made.
	var undo func() error
	defer func() {
		if err != nil && undo != nil {
			if uerr := undo(); uerr != nil {
				err = fmt.Errorf("%w (rollback: %v)", err, uerr)
			}
		}
	}()
	// Rollback must run even when ctx was cancelled (Ctrl-C).
	bg := context.WithoutCancel(ctx)

	info, err := dc.InspectContainer(ctx, name)
	switch {
	case err == nil:
		if err := checkHolder(m, name, info); err != nil {
			return nil, false, err
		}
		if !info.Running {
			if err := dc.StartContainer(ctx, info.ID); err != nil {
				return nil, false, err
			}
			id := info.ID
			undo = func() error { return dc.StopContainer(bg, id, 0) }
		}
	case errors.Is(err, docker.ErrNotFound):
		id, err := createHolder(ctx, m, dc, name, o.Network)
		if err != nil {
			return nil, false, err
		}
		undo = func() error { return dc.RemoveContainer(bg, id) }
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
	return ep, already && undo == nil, nil
}

// createHolder creates (does not start) the holder container name, for
// network netName. The image is checked, and imported if needed, first;
// if another plumb build pruned it in between, it is imported again once.
func createHolder(ctx context.Context, m *network.Manager, dc *docker.Client, name, netName string) (string, error) {
	var err error
	for try := 0; try < 2; try++ {
		var image, id string
		if image, err = ensureImage(ctx, dc); err != nil {
			return "", err
		}
		id, err = dc.CreateContainer(ctx, docker.ContainerSpec{
			Name: name, Image: image, Hostname: name, NetworkMode: "none",
			Labels: map[string]string{Label: owner(m), NetworkLabel: netName}, Hardened: true,
		})
		if !errors.Is(err, docker.ErrNotFound) {
			return id, err
		}
	}
	return "", err
}

// Remove detaches the holder name from every network and removes it:
// `plumb detach NAME; docker rm -f NAME`. Application containers that
// joined its namespace keep running, without the network. Removing a
// sandbox that is gone is success (removed false); its stale endpoints, if
// any, are cleared. Containers that are not this state directory's holders
// are refused.
func Remove(ctx context.Context, m *network.Manager, name string) (eps []*network.Endpoint, removed bool, err error) {
	dc, err := client(m)
	if err != nil {
		return nil, false, err
	}
	info, err := dc.InspectContainer(ctx, name)
	if errors.Is(err, docker.ErrNotFound) {
		eps, derr := m.Detach(ctx, name, "")
		if errors.Is(derr, network.ErrNotAttached) {
			derr = nil
		}
		return eps, false, derr
	}
	if err != nil {
		return nil, false, err
	}
	if err := checkHolder(m, name, info); err != nil {
		return nil, false, err
	}
	eps, derr := m.Detach(ctx, info.ID, "")
	if errors.Is(derr, network.ErrNotAttached) {
		derr = nil
	}
	if err := dc.RemoveContainer(context.WithoutCancel(ctx), info.ID); err != nil {
		return eps, false, errors.Join(derr, err)
	}
	if derr != nil {
		// With the namespace gone, detach needs no file of the container:
		// a second pass clears what the first could not.
		more, err := m.Detach(ctx, info.ID, "")
		if err == nil || errors.Is(err, network.ErrNotAttached) {
			derr = nil
		} else {
			derr = err
		}
		eps = append(eps, more...)
	}
	return eps, true, derr
}

// List lists m's state directory's holder containers, running or not, by
// name, each with its endpoints.
func List(ctx context.Context, m *network.Manager) ([]*Sandbox, error) {
	dc, err := client(m)
	if err != nil {
		return nil, err
	}
	list, err := dc.ListContainers(ctx, Label)
	if err != nil {
		return nil, err
	}
	all, err := m.AllEndpoints("")
	if err != nil {
		return nil, err
	}
	own := owner(m)
	var out []*Sandbox
	for _, c := range list {
		if c.Labels[Label] != own {
			continue
		}
		sb := &Sandbox{Name: c.Name, ContainerID: c.ID, Running: c.Running, Endpoints: []*network.Endpoint{},
			CreatedFor: c.Labels[NetworkLabel]}
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

// prepare checks a sandbox create's name and attach options (one line
// naming a bad value) and returns the Engine client, before anything is
// asked of dockerd.
func prepare(m *network.Manager, name string, o *network.AttachOptions) (*docker.Client, error) {
	if !validName(name) {
		return nil, fmt.Errorf("sandbox name %q: %w: use 2-63 letters, digits, '_', '.' and '-', starting and ending with a letter or digit", name, network.ErrInvalid)
	}
	if err := m.ValidateAttach(o); err != nil {
		return nil, err
	}
	return client(m)
}
