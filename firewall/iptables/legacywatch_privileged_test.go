package iptables

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/internal/testutil"
)

// legacyFirst puts iptables-legacy first in $PATH for the rest of the
// test, as on a host whose alternative is legacy; `ip` and the rest stay
// found.
func legacyFirst(t testing.TB) {
	t.Helper()
	multi, err := exec.LookPath("xtables-legacy-multi")
	if err != nil {
		t.Skip("no xtables-legacy-multi to play iptables-legacy")
	}
	dir := t.TempDir()
	for _, n := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"} {
		if err := os.Symlink(multi, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// legacyTableNames is /proc/net/ip_tables_names of the namespace.
func legacyTableNames(t *testing.T, name string) string {
	t.Helper()
	out, err := testutil.InNS(name, "cat", "/proc/net/ip_tables_names")
	if err != nil {
		t.Fatalf("reading ip_tables_names in %s: %v\n%s", name, err, out)
	}
	return strings.Join(strings.Fields(out), " ")
}

func TestPrivilegedWatchLegacy(t *testing.T) {
	testutil.RequirePrivileged(t)
	legacyFirst(t)
	name, other := testutil.NewNetNS(t), testutil.NewNetNS(t)
	fw, err := New(filepath.Join(t.TempDir(), "iptables.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if nft, err := fw.nftVariant(); err != nil || nft {
		t.Fatalf("iptables-legacy first in PATH: nf_tables %v, %v", nft, err)
	}
	a := testNet("a", "br-a", "10.1.0.0/24")
	cleanupNets(t, name, fw, a)
	calls := watchIn(t, name, fw)
	// Polls see nothing here: not a change of another namespace, and not
	// the polls themselves, which must not make the tables they ask about.
	// Waiting three poll periods shows that; the polls have no other sign.
	runIn(t, other, "iptables", "-A", "INPUT", "-j", "ACCEPT")
	time.Sleep(3 * legacyPollEvery)
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls before any change here, want the first only", n)
	}
	if got := legacyTableNames(t, name); got != "" {
		t.Errorf("legacy tables after polls alone: %q, want none", got)
	}
	steps := []struct {
		what string
		do   func()
	}{
		{"EnsureNetwork", func() { inNS(t, name, func() error { return fw.EnsureNetwork(a) }) }},
		{"AddPorts", func() {
			inNS(t, name, func() error { return fw.AddPorts(a, "ep1", []firewall.Port{testPorts()[0]}) })
		}},
		{"a foreign rule", func() { runIn(t, name, "iptables", "-A", "INPUT", "-j", "ACCEPT") }},
		{"iptables -F", func() { runIn(t, name, "iptables", "-F") }},
		{"iptables -X", func() { runIn(t, name, "iptables", "-X") }},
		{"iptables -t nat -F", func() { runIn(t, name, "iptables", "-t", "nat", "-F") }},
		{"iptables -t nat -X", func() { runIn(t, name, "iptables", "-t", "nat", "-X") }},
		{"EnsureNetwork with IPv6", func() {
			inNS(t, name, func() error { return fw.EnsureNetwork(testNet6("a", "br-a", "10.1.0.0/24", "fd00:1::/64")) })
		}},
		{"ip6tables -F", func() { runIn(t, name, "ip6tables", "-F") }},
	}
	for _, s := range steps {
		before := calls.Load()
		s.do()
		testutil.WaitFor(t, "the call after "+s.what, func() bool { return calls.Load() > before })
	}
}

// dropNetCaps takes CAP_NET_ADMIN and CAP_NET_RAW from the calling
// thread, whatever its user: the kernel then refuses both the nf_tables
// notifications and the raw socket. The caller's thread must be one that
// is never reused (testutil.GoInNS).
func dropNetCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	for _, c := range []uint{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW} {
		data[c/32].Effective &^= 1 << (c % 32)
	}
	return unix.Capset(&hdr, &data[0])
}

// Without the capabilities, Watch cannot tell, in either variant, and says
// so with ErrUnsupported.
func TestPrivilegedWatchUnsupportedWhenRefused(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "nft", true: "legacy"}[legacy], func(t *testing.T) {
			if legacy {
				legacyFirst(t)
			}
			name := testutil.NewNetNS(t)
			fw, err := New("")
			if err != nil {
				t.Fatal(err)
			}
			if nft, err := fw.nftVariant(); err != nil || nft == legacy {
				t.Skipf("iptables is not the variant this case needs (nf_tables %v, %v)", nft, err)
			}
			errc := testutil.GoInNS(t, name, func() error {
				if err := dropNetCaps(); err != nil {
					return err
				}
				return fw.Watch(context.Background(), func() { t.Error("changed called by a Watch that cannot tell") })
			})
			if err := <-errc; !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("Watch without CAP_NET_ADMIN/CAP_NET_RAW = %v, want ErrUnsupported", err)
			}
		})
	}
}
