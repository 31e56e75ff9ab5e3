// Package sysctl reads and writes kernel parameters under /proc/sys, in the
// network namespace of the calling thread.
package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// root is where the kernel shows its parameters; tests point it elsewhere.
var root = "/proc/sys"

// Get returns the value of key, e.g. "net/ipv4/ip_forward", trimmed.
// Equivalent to: `sysctl -n net.ipv4.ip_forward`.
func Get(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, key))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Set writes value to key. Equivalent to: `sysctl -w net.ipv4.ip_forward=1`.
func Set(key, value string) error {
	if err := os.WriteFile(filepath.Join(root, key), []byte(value), 0o644); err != nil {
		return fmt.Errorf("setting sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// Ensure sets key to value unless it already holds it, and reports whether
// it wrote, so that a caller can record that plumb was the one to change it
// and put it back later. Equivalent to:
// `[ "$(sysctl -n KEY)" = VALUE ] || sysctl -w KEY=VALUE`.
func Ensure(key, value string) (changed bool, err error) {
	cur, err := Get(key)
	if err != nil {
		return false, err
	}
	if cur == value {
		return false, nil
	}
	if err := Set(key, value); err != nil {
		return false, err
	}
	return true, nil
}

// DisableAcceptRA turns off IPv6 router advertisements on ifname.
// It succeeds when IPv6 is disabled on the host, as there is nothing to turn off.
// Equivalent to: `sysctl -w net.ipv6.conf.IFNAME.accept_ra=0`.
func DisableAcceptRA(ifname string) error {
	err := Set("net/ipv6/conf/"+ifname+"/accept_ra", "0")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// DisableIPv6 turns IPv6 off on ifname. It succeeds when IPv6 is disabled
// on the host. Equivalent to: `sysctl -w net.ipv6.conf.IFNAME.disable_ipv6=1`.
func DisableIPv6(ifname string) error {
	err := Set("net/ipv6/conf/"+ifname+"/disable_ipv6", "1")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// EnableIPv6NoRA readies ifname for a static IPv6 address: IPv6 on, router
// advertisements ignored (no SLAAC address, no default route from a
// neighbour's advertisement: CVE-2020-13401). Run inside the interface's
// namespace. Equivalent to:
// `sysctl -w net.ipv6.conf.IFNAME.disable_ipv6=0 net.ipv6.conf.IFNAME.accept_ra=0`.
func EnableIPv6NoRA(ifname string) error {
	if err := Set("net/ipv6/conf/"+ifname+"/accept_ra", "0"); err != nil {
		return err
	}
	if v, err := Get("net/ipv6/conf/" + ifname + "/disable_ipv6"); err != nil || v == "0" {
		return err
	}
	return Set("net/ipv6/conf/"+ifname+"/disable_ipv6", "0")
}
