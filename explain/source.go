package explain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
)

// hostNS is plumb's own namespace: the host.
const hostNS = nsview.HostNS

// source is SRC: a namespace, what it is, and its endpoints.
type source struct {
	spec   string
	host   bool
	nsPath string
	t      *container.Target // nil for the host
	eps    []*network.Endpoint
}

// resolveSource resolves SRC: `host` or a target, with its live
// endpoints (Manager.TargetEndpoints).
func resolveSource(ctx context.Context, m *network.Manager, spec string) (*source, error) {
	if spec == "host" {
		return &source{spec: spec, host: true, nsPath: hostNS}, nil
	}
	t, eps, err := m.TargetEndpoints(ctx, spec)
	if err != nil {
		return nil, targetError("SRC", spec, err)
	}
	return &source{spec: spec, nsPath: t.NetNSPath, t: t, eps: eps}, nil
}

// file reads SRC's hosts or resolv.conf: the target's own file, else
// the host's (what a process in a bare namespace sees), and says which.
func (s *source) file(f container.File, base string) ([]byte, string) {
	if f != nil {
		b, err := f.Read()
		if err == nil {
			return b, f.Path()
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, f.Path()
		}
	}
	if s.t != nil && s.t.PID > 0 && s.t.Kind == container.KindPID {
		p := fmt.Sprintf("/proc/%d/root/etc/%s", s.t.PID, base)
		if b, err := os.ReadFile(p); err == nil {
			return b, p
		}
	}
	p := "/etc/" + base
	b, _ := os.ReadFile(p)
	return b, p
}

func (s *source) hostsFile() ([]byte, string) {
	var f container.File
	if s.t != nil {
		f = s.t.HostsFile
	}
	return s.file(f, "hosts")
}

func (s *source) resolvFile() ([]byte, string) {
	var f container.File
	if s.t != nil {
		f = s.t.ResolvFile
	}
	return s.file(f, "resolv.conf")
}

// networks are SRC's networks, first attached first.
func (s *source) networks() []string {
	var out []string
	for _, e := range s.eps {
		out = append(out, e.Network)
	}
	return out
}

// in runs cmd as a person would inside SRC.
func (s *source) in(cmd string) string {
	return nsview.Enter(s.nsPath, cmd)
}

// targetError names what is wrong with the target spec of role (SRC, DST):
// unknown, or not a valid spec at all, in one line.
func targetError(role, spec string, err error) error {
	if errors.Is(err, container.ErrNotFound) {
		return fmt.Errorf("unknown target %q (%s): %w", spec, role, err)
	}
	return fmt.Errorf("%s %q: %w", role, spec, err)
}
