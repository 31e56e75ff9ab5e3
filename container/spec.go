package container

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Kind says how a target was named.
type Kind string

// The kinds of target.
const (
	KindDocker Kind = "docker" // a Docker container name or id
	KindPID    Kind = "pid"    // pid:N or /proc/N/ns/net
	KindNetNS  Kind = "netns"  // netns:NAME or /var/run/netns/NAME
	KindPath   Kind = "path"   // any other netns file
)

const (
	netnsRunDir = "/var/run/netns" // where `ip netns add` mounts named namespaces
	maxSpecLen  = 4096             // PATH_MAX
	maxNameLen  = 255
	maxPID      = 1 << 22 // PID_MAX_LIMIT on 64-bit kernels
)

// spec is a parsed target string. Exactly one of name, pid, path is set,
// according to kind.
type spec struct {
	kind Kind
	name string // docker: name or id; netns: NAME
	pid  int
	path string // path: the cleaned path
}

// parseSpec classifies s without touching the system. Every error wraps
// ErrInvalidTarget and quotes the offending value.
func parseSpec(s string) (spec, error) {
	if s == "" {
		return spec{}, fmt.Errorf("%w: empty string", ErrInvalidTarget)
	}
	if len(s) > maxSpecLen {
		return spec{}, fmt.Errorf("%w %.40q...: longer than %d bytes", ErrInvalidTarget, s, maxSpecLen)
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return spec{}, fmt.Errorf("%w %q: contains a control character", ErrInvalidTarget, s)
	}
	if v, ok := strings.CutPrefix(s, "pid:"); ok {
		pid, err := parsePID(v)
		if err != nil {
			return spec{}, fmt.Errorf("%w %q: %w", ErrInvalidTarget, s, err)
		}
		return spec{kind: KindPID, pid: pid}, nil
	}
	if v, ok := strings.CutPrefix(s, "netns:"); ok {
		if err := checkNetnsName(v); err != nil {
			return spec{}, fmt.Errorf("%w %q: %w", ErrInvalidTarget, s, err)
		}
		return spec{kind: KindNetNS, name: v}, nil
	}
	if strings.HasPrefix(s, "/") {
		return parsePath(s), nil
	}
	if !isDockerRef(s) {
		return spec{}, fmt.Errorf("%w %q: expected pid:N, netns:NAME, an absolute netns path, or a container name or id", ErrInvalidTarget, s)
	}
	return spec{kind: KindDocker, name: s}, nil
}

// parsePath maps /proc/N/ns/net to a pid target and /var/run/netns/NAME or
// /run/netns/NAME to a netns target; anything else stays a path.
func parsePath(p string) spec {
	p = filepath.Clean(p)
	dir, base := filepath.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if (dir == netnsRunDir || dir == "/run/netns") && checkNetnsName(base) == nil {
		return spec{kind: KindNetNS, name: base}
	}
	if rest, ok := strings.CutPrefix(p, "/proc/"); ok {
		if n, ok := strings.CutSuffix(rest, "/ns/net"); ok {
			if pid, err := parsePID(n); err == nil {
				return spec{kind: KindPID, pid: pid}
			}
		}
	}
	return spec{kind: KindPath, path: p}
}

// parsePID accepts only plain decimal digits naming a possible pid.
func parsePID(v string) (int, error) {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, fmt.Errorf("pid %q is not a positive integer", v)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > maxPID {
		return 0, fmt.Errorf("pid %q is out of range (max %d)", v, maxPID)
	}
	if n == 0 {
		return 0, fmt.Errorf("pid %q is not a positive integer", v)
	}
	return n, nil
}

// checkNetnsName enforces what `ip netns` accepts as a name: one path
// component, not "." or "..".
func checkNetnsName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("netns name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("netns name %q is not allowed", name)
	case strings.Contains(name, "/"):
		return fmt.Errorf("netns name %q contains '/'", name)
	case len(name) > maxNameLen:
		return fmt.Errorf("netns name %.40q... is longer than %d bytes", name, maxNameLen)
	case strings.IndexFunc(name, isControl) >= 0:
		return fmt.Errorf("netns name %q contains a control character", name)
	}
	return nil
}

// isDockerRef reports whether s could be a container name or id prefix:
// Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]*, ids are hex.
func isDockerRef(s string) bool {
	if len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return s != ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
