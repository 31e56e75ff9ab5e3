package container

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/internal/testutil"
)

// oldLeftovers are the names an older plumb, killed while creating
// NAME/hosts or NAME/resolv.conf, left in /etc/netns/NAME.
var oldLeftovers = []string{".hosts.plumb-0123456789ab", ".resolv.conf.plumb-abcdef012345"}

// plantNetnsDir makes NetnsEtcDir/NAME with a hosts file holding seed and
// the old leftovers.
func plantNetnsDir(t *testing.T, name, seed string) string {
	t.Helper()
	dir := filepath.Join(NetnsEtcDir, name)
	writeFile(t, filepath.Join(dir, "hosts"), seed)
	for _, n := range oldLeftovers {
		writeFile(t, filepath.Join(dir, n), seed)
	}
	return dir
}

func TestNetnsLeftoversListedAndRemoved(t *testing.T) {
	useHostEtc(t, t.TempDir())
	useNetnsEtc(t, filepath.Join(t.TempDir(), "netns"))
	dir := plantNetnsDir(t, "blue", "127.0.0.1\tlocalhost\n")
	writeFile(t, filepath.Join(dir, "nsswitch.conf"), "user's\n")
	writeFile(t, filepath.Join(dir, ".hosts.plumbing"), "user's\n")
	writeFile(t, filepath.Join(NetnsEtcDir, "green", "resolv.conf"), "nameserver 10.0.0.53\n")

	got, err := NetnsLeftovers("blue")
	must(t, err)
	var want []string
	for _, n := range oldLeftovers {
		want = append(want, filepath.Join(dir, n))
	}
	if !slices.Equal(got, want) {
		t.Errorf("NetnsLeftovers(blue) = %v, want %v", got, want)
	}
	if got, err := NetnsLeftovers("green"); err != nil || len(got) != 0 {
		t.Errorf("NetnsLeftovers(green) = %v, %v; want none", got, err)
	}
	if got, err := NetnsLeftovers("gone"); err != nil || len(got) != 0 {
		t.Errorf("NetnsLeftovers of a missing directory = %v, %v; want none", got, err)
	}
	if got, err := NetnsLeftoverNames(); err != nil || !slices.Equal(got, []string{"blue"}) {
		t.Errorf("NetnsLeftoverNames() = %v, %v; want [blue]", got, err)
	}
	must(t, RemoveNetnsLeftovers("blue"))
	if got := names(t, dir); !slices.Equal(got, []string{".hosts.plumbing", "hosts", "nsswitch.conf"}) {
		t.Errorf("after RemoveNetnsLeftovers: %v", got)
	}
	must(t, RemoveNetnsLeftovers("gone"))
}

// The next update of either file clears the leftovers.
func TestNetnsUpdateRemovesLeftovers(t *testing.T) {
	useHostEtc(t, t.TempDir())
	useNetnsEtc(t, filepath.Join(t.TempDir(), "netns"))
	dir := plantNetnsDir(t, "blue", "127.0.0.1\tlocalhost\n")
	f := &netnsFile{dir: NetnsEtcDir, name: "blue", base: "resolv.conf"}
	must(t, f.Update(appendLine("nameserver 127.0.0.11\n")))
	if got := names(t, dir); !slices.Equal(got, []string{"hosts", "resolv.conf"}) {
		t.Errorf("after an update: %v", got)
	}
}

// Detach (RemoveHosts, then RestoreResolv) of the last endpoint removes the
// leftovers with plumb's files, and so the directory.
func TestNetnsDetachRemovesLeftovers(t *testing.T) {
	etc := t.TempDir()
	useHostEtc(t, etc)
	writeFile(t, filepath.Join(etc, "hosts"), "127.0.0.1\tlocalhost\n")
	useNetnsEtc(t, filepath.Join(t.TempDir(), "netns"))
	dir := plantNetnsDir(t, "blue", "127.0.0.1\tlocalhost\n10.0.0.2\tweb\t# plumb:net/ep\n")
	must(t, RemoveHosts(&netnsFile{dir: NetnsEtcDir, name: "blue", base: "hosts"}, "net/ep"))
	if got := names(t, dir); got != nil {
		t.Errorf("after the detach: %s holds %v", dir, got)
	}
	if _, err := os.Stat(NetnsEtcDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left: %v", NetnsEtcDir, err)
	}
}

// What an older plumb left when killed (.hosts.plumb-*) goes with the next
// detach, and `ip netns exec` is quiet again.
func TestPrivilegedNetnsLeftoverDetach(t *testing.T) {
	name := testutil.NewNetNS(t)
	dir := netnsEtcFor(t, name)
	hosts, _ := os.ReadFile("/etc/hosts")
	writeFile(t, filepath.Join(dir, "hosts"), string(hosts)+"10.0.0.2\tweb\t# plumb:net/ep\n")
	writeFile(t, filepath.Join(dir, oldLeftovers[0]), string(hosts))
	if out, _ := testutil.InNS(name, "true"); !strings.Contains(out, "Bind") {
		t.Logf("ip netns exec did not complain of the leftover (%q)", out)
	}
	tg, err := resolveNetNS(name)
	must(t, err)
	must(t, RemoveHosts(tg.HostsFile, "net/ep"))
	if got := names(t, dir); got != nil {
		t.Errorf("after the detach %s holds %v", dir, got)
	}
	ipNetnsExecClean(t, name)
}
