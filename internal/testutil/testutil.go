// Package testutil holds the helpers shared by plumb's privileged tests:
// the root check that refuses to skip in CI, and throwaway network
// namespaces that are always removed, even when the test fails.
package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequirePrivileged skips t unless it runs as root. When PLUMB_REQUIRE_PRIVILEGED
// is set (CI sets it), a missing privilege fails the test instead, so that the
// kernel tests can never silently skip where they are meant to run.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("PLUMB_REQUIRE_PRIVILEGED") != "" {
		t.Fatal("privileged test cannot run: not root, and PLUMB_REQUIRE_PRIVILEGED is set")
	}
	t.Skip("privileged test: run as root")
}

// UniqueName returns prefix followed by random hex, at most 15 bytes long, so
// it is usable as an interface or namespace name.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := prefix + hex.EncodeToString(b)
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

// NewNetNS creates a named network namespace (`ip netns add NAME`) whose
// loopback is up, and registers its removal with t.Cleanup. It returns the
// namespace name; its path is /var/run/netns/NAME.
func NewNetNS(t testing.TB) string {
	t.Helper()
	RequirePrivileged(t)
	name := UniqueName("pt")
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	Run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// Run runs a command and fails the test with its output when it fails. It
// returns the combined output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// InNS runs a command inside the named namespace (`ip netns exec NS ...`) and
// returns its combined output and error, without failing the test.
func InNS(ns string, name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	return string(out), err
}
