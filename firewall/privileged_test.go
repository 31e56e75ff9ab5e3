package firewall

import (
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/plumbnet/plumb/internal/testutil"
)

// inNS runs fn with the calling thread in the named namespace. fn must not
// start goroutines.
func inNS(t *testing.T, name string, fn func() error) {
	t.Helper()
	if err := ns.WithNetNSPath("/var/run/netns/"+name, func(ns.NetNS) error { return fn() }); err != nil {
		t.Fatal(err)
	}
}

func TestPrivilegedIPForward(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	read := func() string {
		out, err := testutil.InNS(name, "sysctl", "-n", "net.ipv4.ip_forward")
		if err != nil {
			t.Fatalf("sysctl: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}
	initial := read()
	t.Cleanup(func() { testutil.InNS(name, "sysctl", "-w", "net.ipv4.ip_forward="+initial) })

	var first, second bool
	inNS(t, name, func() (err error) {
		if err = DisableIPForward(); err != nil {
			return err
		}
		if first, err = EnableIPForward(); err != nil {
			return err
		}
		second, err = EnableIPForward()
		return err
	})
	if !first || second || read() != "1" {
		t.Errorf("EnableIPForward from 0: changed %v then %v, value %s; want true, false, 1", first, second, read())
	}
	inNS(t, name, DisableIPForward)
	if got := read(); got != "0" {
		t.Errorf("after DisableIPForward: %s, want 0", got)
	}
}
