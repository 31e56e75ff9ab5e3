package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/script"
)

// Placeholders of a dry run for what only its script will know: the
// holder's id, pid, namespace inode and name-service files, and the
// image's build directory. DryCreate binds each to a shell variable
// (script.Var); none can be a real value of its kind (a pid of 10 digits,
// an id of one repeated word).
var (
	phID     = strings.Repeat("feedface", 8)
	phPID    = 4242424242
	phInode  = uint64(4343434343434343)
	phHosts  = "/plumb-dry-run/hosts"
	phResolv = "/plumb-dry-run/resolv.conf"
	phDir    = "/plumb-dry-run/image"
)

// DryCreate records in m.DryRun what Create would do, and changes nothing
// (no container, image, state file or link): the `docker` commands that
// make and start the holder, then the attach of its namespace. A holder
// that does not exist yet is referred to by shell variables the script
// sets as it runs, from `docker inspect`:
//
//	id=$(docker run -d --name NAME ... plumb/sandbox:HASH)
//	pid=$(docker inspect -f '{{.State.Pid}}' "$id")
//	ip link add vethX ... netns /proc/"$pid"/ns/net
//
// A running holder is Attach's own dry run; already is as Create's.
func DryCreate(ctx context.Context, m *network.Manager, name string, o network.AttachOptions) (_ *network.Endpoint, already bool, err error) {
	if m.DryRun == nil {
		return nil, false, errors.New("DryCreate is for a dry run only")
	}
	dc, err := prepare(m, name, &o)
	if err != nil {
		return nil, false, err
	}
	s := m.DryRun
	info, err := dc.InspectContainer(ctx, name)
	switch {
	case err == nil:
		if err := checkHolder(m, name, info); err != nil {
			return nil, false, err
		}
		if info.Running {
			return m.Attach(ctx, name, o)
		}
		s.Cmd("docker", "start", info.ID)
		ep, err := dryAttachHolder(m, name, info.ID, o)
		return ep, false, err
	case errors.Is(err, docker.ErrNotFound):
		image, err := dryImage(ctx, dc, s)
		if err != nil {
			return nil, false, err
		}
		s.Line("id=$(" + dockerRun(m, name, o.Network, image) + ")")
		s.Var("id", phID)
		ep, err := dryAttachHolder(m, name, phID, o)
		return ep, false, err
	default:
		return nil, false, err
	}
}

// dockerRun is the `docker run -d` of the holder createHolder makes and
// Create starts: the ContainerSpec's fields as flags.
func dockerRun(m *network.Manager, name, netName, image string) string {
	labels := map[string]string{Label: owner(m), NetworkLabel: netName}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := []string{"docker", "run", "-d", "--name", name, "--hostname", name, "--network=none"}
	for _, k := range keys {
		args = append(args, "--label", k+"="+labels[k])
	}
	// Hardened: docker.ContainerSpec's CapDrop, ReadonlyRootfs, SecurityOpt.
	args = append(args, "--cap-drop=ALL", "--read-only", "--security-opt=no-new-privileges", image)
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = script.Quote(a)
	}
	return strings.Join(q, " ")
}

// dryAttachHolder records the attach of the holder id, started by the
// script: its pid, namespace inode and files read with `docker inspect`
// and `stat` into shell variables, then network's dry attach of a new
// target. id is phID when the script makes the holder.
func dryAttachHolder(m *network.Manager, name, id string, o network.AttachOptions) (*network.Endpoint, error) {
	s := m.DryRun
	ref := script.Quote(id)
	inspect := func(v, format, ph string) {
		s.Line(v + "=$(docker inspect -f " + script.Quote(format) + " " + ref + ")")
		s.Var(v, ph)
	}
	inspect("pid", "{{.State.Pid}}", fmt.Sprint(phPID))
	netns := fmt.Sprintf("/proc/%d/ns/net", phPID)
	s.Line("ino=$(stat -L -c %i " + script.Quote(netns) + ")")
	s.Var("ino", fmt.Sprint(phInode))
	inspect("hosts", "{{.HostsPath}}", phHosts)
	inspect("resolv", "{{.ResolvConfPath}}", phResolv)
	if id == phID {
		n, err := m.Get(o.Network)
		if err != nil {
			return nil, err
		}
		// network.HostVethName in the shell: "veth" and 11 hex digits of
		// the sha256 of NETWORKID/CONTAINERID.
		s.Line("veth=veth$(printf '%s' " + script.Quote(n.ID+"/"+id) + " | sha256sum | cut -c1-11)")
		s.Var("veth", network.HostVethName(n, id))
	}
	return m.DryAttachNew(network.NewTarget{
		Target: containerTarget(name, id, netns),
		Spec:   name, HostsPath: phHosts, ResolvPath: phResolv, Inode: phInode,
	}, o)
}

// containerTarget is the Target container.Resolve makes of the running
// holder name whose id is id and namespace netns, but its files.
func containerTarget(name, id, netns string) container.Target {
	return container.Target{
		Spec: name, Kind: container.KindDocker, PID: phPID, NetNSPath: netns,
		ContainerID: id, ContainerName: name, Hostname: name, Key: id,
	}
}

// dryImage returns the holder image's reference, recording its import
// from this plumb binary when dockerd does not have it (ensureImage):
// the layer's entries made in a directory, tarred as root's, and
// `docker import`ed; then the other builds' images removed.
func dryImage(ctx context.Context, dc *docker.Client, s *script.Script) (string, error) {
	bin, tag, ref, have, err := holderImage(ctx, dc)
	if err != nil || have {
		return ref, err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	s.Comment("the holder image %s is missing: plumb imports it from its own binary", ref)
	s.Line("d=$(mktemp -d)")
	s.Var("d", phDir)
	s.Cmd("chmod", "755", phDir) // the layer's root: mktemp made it 0700
	for _, e := range layerEntries(bin) {
		path := filepath.Join(phDir, e.name)
		switch {
		case e.dir:
			s.Cmd("mkdir", "-p", path)
		case e.name == holderPath[1:]:
			s.Cmd("cp", exe, path)
		default:
			s.File(path, e.data, 0o644)
		}
		s.Cmd("chmod", fmt.Sprintf("%o", e.mode), path)
	}
	imp := []string{"docker", "import"}
	for _, c := range imageChanges(tag) {
		imp = append(imp, "--change", c)
	}
	q := make([]string, 0, len(imp))
	for _, a := range append(imp, "-", ref) {
		q = append(q, script.Quote(a))
	}
	s.Line("tar --numeric-owner --owner=0 --group=0 -C " + script.Quote(phDir) + " -c . | " + strings.Join(q, " "))
	s.Cmd("rm", "-rf", phDir)
	if refs, err := dc.ImageRefs(ctx, ImageLabel); err == nil {
		for _, r := range refs {
			if r != ref && strings.HasPrefix(r, ImageRepo+":") {
				s.Line("docker rmi " + script.Quote(r) + " || true")
			}
		}
	}
	return ref, nil
}

// DryRemove records in m.DryRun what Remove would do, and changes nothing:
// the detach's dry run, then `docker rm -f NAME`. A sandbox that is gone
// records the detach of its stale endpoints, if any, and a comment.
func DryRemove(ctx context.Context, m *network.Manager, name string) error {
	if m.DryRun == nil {
		return errors.New("DryRemove is for a dry run only")
	}
	dc, err := client(m)
	if err != nil {
		return err
	}
	info, err := dc.InspectContainer(ctx, name)
	if errors.Is(err, docker.ErrNotFound) {
		m.DryRun.Comment("sandbox %s does not exist", name)
		_, derr := m.Detach(ctx, name, "")
		if errors.Is(derr, network.ErrNotAttached) {
			derr = nil
		}
		return derr
	}
	if err != nil {
		return err
	}
	if err := checkHolder(m, name, info); err != nil {
		return err
	}
	if _, err := m.Detach(ctx, info.ID, ""); err != nil && !errors.Is(err, network.ErrNotAttached) {
		return err
	}
	m.DryRun.Cmd("docker", "rm", "-f", name)
	return nil
}
