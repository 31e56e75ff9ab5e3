package nat

import (
	"bytes"
	"fmt"
	"os"
)

// ipForwardPath is the IPv4 forwarding switch of the caller's network
// namespace (the namespace of the calling thread when the file is opened).
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// EnableIPForward turns IPv4 forwarding on in the current network namespace
// and reports whether it was off before, so that the caller can record that
// plumb changed it and undo it with DisableIPForward when it removes its
// last network. Calling it when forwarding is on changes nothing and
// reports false. Equivalent to: `sysctl -w net.ipv4.ip_forward=1`.
func EnableIPForward() (changed bool, err error) {
	return writeSysctl(ipForwardPath, "1")
}

// DisableIPForward turns IPv4 forwarding off in the current network
// namespace. Call it only when EnableIPForward reported a change: forwarding
// may be on for Docker or for the host's own routing. Equivalent to:
// `sysctl -w net.ipv4.ip_forward=0`.
func DisableIPForward() error {
	_, err := writeSysctl(ipForwardPath, "0")
	return err
}

// writeSysctl sets the sysctl file at path to value unless it already holds
// it, and reports whether it wrote.
func writeSysctl(path, value string) (changed bool, err error) {
	cur, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	if string(bytes.TrimSpace(cur)) == value {
		return false, nil
	}
	if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
		return false, fmt.Errorf("writing %s to %s: %w", value, path, err)
	}
	return true, nil
}
