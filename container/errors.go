package container

import (
	"errors"

	"github.com/plumbnet/plumb/docker"
)

// Errors callers branch on with errors.Is. The returned errors wrap them and
// name the value, e.g. `container "web" not found`.
var (
	// ErrNotFound: no such container, process, named netns or netns path.
	// It is docker.ErrNotFound itself, so that one test catches a missing
	// container whichever package noticed.
	ErrNotFound = docker.ErrNotFound
	// ErrNotRunning: the container exists but is stopped, so it has no netns.
	ErrNotRunning = errors.New("not running")
	// ErrDockerUnavailable: the Docker daemon cannot be reached (socket
	// missing, connection refused, permission denied, timeout). It is
	// docker.ErrUnavailable itself.
	ErrDockerUnavailable = docker.ErrUnavailable
	// ErrInvalidTarget: the target string is malformed (bad pid, bad netns
	// name, a container name Docker would never accept).
	ErrInvalidTarget = errors.New("invalid target")
)
