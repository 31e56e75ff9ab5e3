package network

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/portmap"
	"github.com/plumbnet/plumb/script"
)

// scriptDaemon is the daemon of a dry run. Its parts are no kernel
// objects: what it would do is printed as comments, and its reads are
// left to the real daemon (d), which a dry run never starts.
type scriptDaemon struct {
	d Daemon
	s *script.Script
}

func (d scriptDaemon) Start() error {
	d.s.Comment("the plumb daemon would start (if not running): it keeps the networks true and serves their names")
	return nil
}

func (d scriptDaemon) Up(network, id string) error {
	d.s.Comment("the plumb daemon would answer the names of endpoint %s on %q at 127.0.0.11 in its namespace", id, network)
	return nil
}

func (d scriptDaemon) Down(network, id string) error {
	d.s.Comment("the plumb daemon would forget the names of endpoint %s on %q", id, network)
	return nil
}

func (d scriptDaemon) Reap(r control.Reap) error { return nil }

// Hold returns the mappings the daemon would hold: the port asked for, the
// first of a range, or for none one the kernel offers now.
func (d scriptDaemon) Hold(network, id string, reqs []portmap.Request) ([]portmap.Mapping, error) {
	var out []portmap.Mapping
	for _, r := range reqs {
		m := portmap.Mapping{Proto: r.Proto, HostIP: r.HostIP, HostPort: r.HostPort, Port: r.Port}
		if m.HostPort == 0 {
			m.HostPort = freePort(r.Proto)
			d.s.Comment("the plumb daemon would pick a free host port when it runs: %d is free now and stands for it below; its pick may differ", m.HostPort)
		}
		d.s.Comment("the plumb daemon would hold host port %s/%s for it", m.Host(), m.Proto)
		out = append(out, m)
	}
	return out, nil
}

// freePort is a port the kernel hands out now; 0 when it will not. It
// binds an ephemeral port on the host and closes it before it returns:
// nothing it binds outlasts the call. The port is a guess: the daemon
// picks its own when it holds one, and that may differ.
func freePort(proto string) uint16 {
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", "0.0.0.0:0")
		if err != nil {
			return 0
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port)
	}
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func (d scriptDaemon) Release(network, id string) error {
	d.s.Comment("the plumb daemon would let the host ports of endpoint %s go", id)
	return nil
}

func (d scriptDaemon) Sync() error {
	d.s.Comment("the plumb daemon would re-read the state directory and serve what it says")
	return nil
}

func (d scriptDaemon) Records(network string) ([]control.Record, error) {
	return d.d.Records(network)
}

func (d scriptDaemon) Listeners() (control.Listening, error) { return d.d.Listeners() }

// Remotes: a dry run writes no remote records (only the cluster agent does).
func (d scriptDaemon) Remotes(string) error { return nil }

// scriptTargets resolves targets as the real resolver does and gives them
// name-service files that record their writes.
type scriptTargets struct {
	Targets
	m *Manager
}

func (t scriptTargets) Resolve(ctx context.Context, spec string) (*container.Target, error) {
	tg, err := t.Targets.Resolve(ctx, spec)
	if err != nil || tg == nil {
		return tg, err
	}
	c := *tg
	c.HostsFile, c.ResolvFile = t.m.scriptFile(tg.HostsFile), t.m.scriptFile(tg.ResolvFile)
	return &c, nil
}

// scriptFile is a target's file for a dry run: it reads the real file and
// records each write, remembering what it wrote so that a later read in
// the same run sees it.
type scriptFile struct {
	container.File
	s       *script.Script
	written []byte
	gone    bool
}

// scriptFile wraps f; nil stays nil.
func (m *Manager) scriptFile(f container.File) container.File {
	if f == nil || !m.dry() {
		return f
	}
	if _, ok := f.(*scriptFile); ok {
		return f
	}
	return &scriptFile{File: f, s: m.DryRun}
}

func (f *scriptFile) netns() bool {
	return strings.HasPrefix(f.Path(), container.NetnsEtcDir+"/")
}

func (f *scriptFile) Read() ([]byte, error) {
	switch {
	case f.gone:
		return nil, fs.ErrNotExist
	case f.written != nil:
		return f.written, nil
	}
	return f.File.Read()
}

// Update records the write fn asks for. A missing netns file starts as the
// host's file of its name, in its new directory, as container's does.
func (f *scriptFile) Update(fn func(old []byte) ([]byte, error)) error {
	old, err := f.Read()
	if errors.Is(err, fs.ErrNotExist) && f.netns() {
		old, err = os.ReadFile(filepath.Join("/etc", filepath.Base(f.Path())))
		f.s.Cmd("mkdir", "-p", filepath.Dir(f.Path()))
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	b, err := fn(old)
	if err != nil {
		return err
	}
	if f.written == nil && !f.gone && bytes.Equal(b, old) {
		return nil
	}
	f.s.File(f.Path(), b, 0o644)
	f.written, f.gone = b, false
	return nil
}

func (f *scriptFile) Created() bool { return false }

// Remove records removing a netns file and its directory when empty; the
// other kinds' files are never removed.
func (f *scriptFile) Remove() error {
	if !f.netns() {
		return nil
	}
	f.s.Cmd("rm", "-f", f.Path())
	f.s.Line("rmdir " + script.Quote(filepath.Dir(f.Path())) + " 2>/dev/null || true")
	f.gone, f.written = true, nil
	return nil
}

// tidy records container.Tidy: a netns file that is now the host's file
// of its name, with no line of plumb's, goes.
func (f *scriptFile) tidy() error {
	cur, err := f.Read()
	if err != nil || !f.netns() {
		return nil
	}
	seed, err := os.ReadFile(filepath.Join("/etc", filepath.Base(f.Path())))
	if err == nil && bytes.Equal(cur, seed) {
		return f.Remove()
	}
	return nil
}

// dryPointResolv records container.PointResolv: the original kept first,
// then the file pointed at 127.0.0.11.
func (m *Manager) dryPointResolv(f container.File, key string) error {
	if p, ok := f.(*pendingFile); ok {
		return m.dryPointPending(p, key)
	}
	sf := m.scriptFile(f).(*scriptFile)
	if pointed, err := container.Pointed(sf); err != nil || pointed {
		return err
	}
	old, err := sf.Read()
	if errors.Is(err, fs.ErrNotExist) && sf.netns() {
		old, err = os.ReadFile(filepath.Join("/etc", filepath.Base(sf.Path())))
	}
	if err != nil {
		return err
	}
	save := m.resolvOrigPath(key)
	m.DryRun.Cmd("mkdir", "-p", filepath.Dir(save))
	m.DryRun.File(save, old, 0o644)
	want := container.PointedResolvConf()
	return sf.Update(func([]byte) ([]byte, error) { return want, nil })
}

// dryRestoreResolv records restoreResolv's cases: the kept original put
// back while the file still points at 127.0.0.11, a netns file with none
// kept removed, the kept file removed.
func (m *Manager) dryRestoreResolv(f container.File, key string) error {
	sf := m.scriptFile(f).(*scriptFile)
	save := m.resolvOrigPath(key)
	orig, err := os.ReadFile(save)
	pointed, _ := container.Pointed(sf)
	switch {
	case (err != nil || len(orig) == 0) && sf.netns():
		if err == nil {
			m.DryRun.Cmd("rm", "-f", save)
		}
		if pointed {
			return sf.Remove()
		}
		return sf.tidy()
	case err != nil:
		return nil
	}
	if pointed {
		if err := sf.Update(func([]byte) ([]byte, error) { return orig, nil }); err != nil {
			return err
		}
	}
	if err := sf.tidy(); err != nil {
		return err
	}
	m.DryRun.Cmd("rm", "-f", save)
	m.DryRun.Line("rmdir " + script.Quote(filepath.Dir(save)) + " 2>/dev/null || true")
	return nil
}
