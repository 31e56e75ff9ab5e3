package docker

import "errors"

// Errors callers branch on with errors.Is. The returned errors wrap them and
// name the value, e.g. `container "web" not found`.
var (
	// ErrNotFound: dockerd answered 404, no such container or image.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the Docker daemon cannot be reached (socket missing,
	// connection refused, permission denied, timeout).
	ErrUnavailable = errors.New("cannot reach the Docker daemon")
	// ErrExists: a container of that name exists already (create).
	ErrExists = errors.New("already exists")
)
