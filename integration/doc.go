// Package integration holds plumb's root-only tests: the plumb binary run
// against the real kernel, in throwaway network namespaces that stand in for
// the host, the targets and an "outside world", and the Docker end-to-end
// tests against a real dockerd. Every test removes what it made, even when
// it fails.
package integration
