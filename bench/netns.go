package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// addNetns creates a named netns. Equivalent to: `ip netns add NAME`.
func addNetns(name string) error {
	_, err := sh("ip", "netns", "add", name)
	return err
}

// delNetns removes a named netns; the kernel then frees everything inside it
// (links, firewall) once nothing else holds it. Equivalent to: `ip netns del NAME`.
func delNetns(name string) error {
	if _, err := os.Stat(netnsPath(name)); os.IsNotExist(err) {
		return nil
	}
	_, err := sh("ip", "netns", "del", name)
	return err
}

// disableIPv6 turns IPv6 off in a named netns, for interfaces there now and
// later. Equivalent to: `ip netns exec NAME sysctl -w
// net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`.
func disableIPv6(name string) error {
	_, err := sh("ip", "netns", "exec", name, "sysctl", "-qw",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	return err
}

// tidyEtcNetns removes what attaching netns targets left under /etc/netns
// and was not there before: the per-namespace directories of names, and
// /etc/netns itself when it did not exist and is now empty. It returns a
// line per thing removed, for the report.
func tidyEtcNetns(before HostState, names []string) []string {
	var notes []string
	had := before["/etc/netns"]
	var left []string
	for _, n := range names {
		dir := filepath.Join("/etc/netns", n)
		if slices.Contains(had, n) {
			continue
		}
		if _, err := os.Lstat(dir); err == nil {
			left = append(left, n)
			_ = os.RemoveAll(dir)
		}
	}
	if len(left) > 0 {
		notes = append(notes, fmt.Sprintf("%d /etc/netns/%s… directories were left behind by plumb; the bench removed them", len(left), left[0]))
	}
	if len(had) == 0 { // /etc/netns did not exist before
		if err := os.Remove("/etc/netns"); err == nil {
			notes = append(notes, "/etc/netns did not exist before the run; plumb's attach created it (for netns targets' hosts files) and detach left it behind, empty: the bench removed it")
		}
	}
	return notes
}
