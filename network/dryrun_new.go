package network

import (
	"errors"
	"path/filepath"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/script"
	"github.com/plumbnet/plumb/veth"
)

// NewTarget is a target a dry run's script makes itself before it attaches
// it, such as a sandbox's holder container: the dry run cannot know its
// id, pid, namespace or files, so the Target's Key, ContainerID, PID and
// NetNSPath, and HostsPath, ResolvPath and Inode, are placeholders the
// caller has bound to shell variables with script.Var (or real values
// where it knows them).
type NewTarget struct {
	container.Target
	Spec       string // how the endpoint records its target
	HostsPath  string // its /etc/hosts on the host; "" for none
	ResolvPath string // its resolv.conf on the host; "" for none
	Inode      uint64 // its namespace's inode
}

// DryAttachNew records in m.DryRun the attach of t, which the script makes
// before: Attach's very steps, against a namespace that is new (lo alone,
// no route) and name-service files whose content only the script will
// see. Its hosts lines are appended (`cat >>`), its resolv.conf is kept
// with `cp` and then pointed at 127.0.0.11. The endpoint record has no
// netns cookie, which no shell command reads: plumb then knows the
// namespace by its inode. It changes nothing; without m.DryRun it fails.
func (m *Manager) DryAttachNew(t NewTarget, o AttachOptions) (*Endpoint, error) {
	if !m.dry() {
		return nil, errors.New("DryAttachNew is for a dry run only")
	}
	if err := m.ValidateAttach(&o); err != nil {
		return nil, err
	}
	n, err := m.Get(o.Network)
	if err != nil {
		return nil, err
	}
	tg := t.Target
	if t.HostsPath != "" {
		tg.HostsFile = &pendingFile{path: t.HostsPath, hosts: true, s: m.DryRun}
	}
	if t.ResolvPath != "" {
		tg.ResolvFile = &pendingFile{path: t.ResolvPath, s: m.DryRun}
	}
	l := m.links().(*scriptLinks)
	l.fresh, l.freshInode = tg.NetNSPath, t.Inode
	defer func() { l.fresh = "" }()
	ep, _, err := m.attach(n, &tg, t.Spec, o)
	return ep, err
}

// newNS is the namespace of a target to be: what a container started with
// --network=none has, lo alone and no route.
type newNS struct{ inode uint64 }

func (n newNS) Inode() uint64             { return n.inode }
func (n newNS) Cookie() (uint64, error)   { return 0, nil }
func (n newNS) Configure(veth.Peer) error { return nil }
func (n newNS) CheckPeer(veth.PeerCheck) error {
	return errors.New("the namespace is not made yet")
}
func (n newNS) HasRoute(veth.Route) (bool, error) { return false, nil }
func (n newNS) Close() error                      { return nil }
func (n newNS) Inspect() (veth.Inside, error) {
	return veth.Inside{Names: map[string]bool{"lo": true}}, nil
}

// pendingFile is a name-service file of a target to be: its path is known
// (a placeholder, maybe), its content is not. An Update records what fn
// makes of an empty file: appended for hosts (container.SetHostsEntries
// only appends plumb's lines), written whole otherwise.
type pendingFile struct {
	path  string
	hosts bool
	s     *script.Script
}

func (f *pendingFile) Path() string          { return f.path }
func (f *pendingFile) Created() bool         { return false }
func (f *pendingFile) Remove() error         { return nil }
func (f *pendingFile) Read() ([]byte, error) { return nil, nil }

func (f *pendingFile) Update(fn func(old []byte) ([]byte, error)) error {
	b, err := fn(nil)
	if err != nil || len(b) == 0 {
		return err
	}
	if f.hosts {
		f.s.Append(f.path, b)
	} else {
		f.s.File(f.path, b, 0o644)
	}
	return nil
}

// dryPointPending records container.PointResolv on a file of a target to
// be: `cp` keeps the original, then the file points at 127.0.0.11.
func (m *Manager) dryPointPending(f *pendingFile, key string) error {
	save := m.resolvOrigPath(key)
	m.DryRun.Cmd("mkdir", "-p", filepath.Dir(save))
	m.DryRun.Cmd("cp", f.path, save)
	m.DryRun.File(f.path, container.PointedResolvConf(), 0o644)
	return nil
}
