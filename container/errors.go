package container

import "errors"

// Errors callers branch on with errors.Is. The returned errors wrap them and
// name the value, e.g. `container "web" not found`.
var (
	// ErrNotFound: no such container, process, named netns or netns path.
	ErrNotFound = errors.New("not found")
	// ErrNotRunning: the container exists but is stopped, so it has no netns.
	ErrNotRunning = errors.New("not running")
	// ErrDockerUnavailable: the Docker daemon cannot be reached (socket
	// missing, connection refused, permission denied, timeout).
	ErrDockerUnavailable = errors.New("cannot reach the Docker daemon")
	// ErrInvalidTarget: the target string is malformed (bad pid, bad netns
	// name, a container name Docker would never accept).
	ErrInvalidTarget = errors.New("invalid target")
	// ErrExists: a container of that name exists already (create).
	ErrExists = errors.New("already exists")
)
