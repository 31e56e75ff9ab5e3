package iptables

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedWithoutIP6tables: on a host whose $PATH has iptables but
// no ip6tables, New still works, IPv4-only networks are ensured, checked
// and deleted as ever (iptables-save restored), and a network with IPv6 is
// refused with an error naming ip6tables, iptables left as it was.
func TestPrivilegedWithoutIP6tables(t *testing.T) {
	testutil.RequirePrivileged(t)
	name := testutil.NewNetNS(t)
	dir := t.TempDir()
	for _, n := range []string{"iptables", "iptables-save", "iptables-restore", "ip"} {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("no %s: %v", n, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	fw, err := New(filepath.Join(t.TempDir(), "iptables.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if fw.run6 != nil || fw.err6 == nil {
		t.Fatalf("New found an ip6tables outside $PATH")
	}
	a := testNet("a", "br-a", "10.1.0.0/24")
	d := testNet6("d", "br-d", "10.2.0.0/24", "fd00:2::/64")
	cleanupNets(t, name, fw, a, d)
	before := saveIn(t, name)
	inNS(t, name, func() error { return fw.EnsureNetwork(a) })
	mid := saveIn(t, name)
	inNS(t, name, func() error {
		if err := fw.EnsureNetwork(d); err == nil || !strings.Contains(err.Error(), "ip6tables") {
			t.Errorf("EnsureNetwork of a dual-stack network without ip6tables: %v", err)
		}
		p := []firewall.Port{testPorts()[0]}
		if err := fw.AddPorts(a, "e", p); err != nil {
			return err
		}
		if err := fw.CheckEndpoint(a, "e", p); err != nil {
			return err
		}
		c, err := fw.Snapshot()
		if err != nil {
			return err
		}
		if err := c.CheckNetwork(a); err != nil {
			return err
		}
		return fw.DeletePorts("a", "e")
	})
	if got := saveIn(t, name); got != mid {
		t.Errorf("iptables-save after a refused dual-stack network and a port added and deleted:\n%s\nwant:\n%s", got, mid)
	}
	inNS(t, name, func() error { return fw.DeleteNetwork("a") })
	checkSaveRestored(t, before, saveIn(t, name))
}
