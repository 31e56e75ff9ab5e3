package sandbox

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/script"
)

// TestDryCreateNewHolder: with no holder and no image, DryCreate asks
// dockerd nothing that changes, writes no file, and records the image's
// import, the holder's `docker run`, the shell variables of what only the
// holder knows, and the attach against them; the script is valid sh.
func TestDryCreateNewHolder(t *testing.T) {
	f := &fakeDocker{}
	m := sandboxManager(t, f)
	config := `{"name":"n","id":"` + strings.Repeat("a", 64) + `","bridge":"pb-sdtest","subnet":"10.9.0.0/24","gateway":"10.9.0.1","mtu":1500}`
	if err := os.WriteFile(filepath.Join(m.StateDir, "networks", "n", "network.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	// network create makes ips/ (ipam.NewDiskStore would make it).
	if err := os.Mkdir(filepath.Join(m.StateDir, "networks", "n", "ips"), 0o755); err != nil {
		t.Fatal(err)
	}
	m.DryRun = &script.Script{}
	fake := filepath.Join(t.TempDir(), "plumb")
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	if err := os.WriteFile(fake, h, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(old string) { selfExe = old }(selfExe)
	selfExe = fake
	before := files(t, m.StateDir)
	ep, already, err := DryCreate(context.Background(), m, "web", network.AttachOptions{Network: "n"})
	if err != nil || already || ep.IP.String() != "10.9.0.2/24" {
		t.Fatalf("DryCreate = %v, %v, %v", ep, already, err)
	}
	s := m.DryRun.String()
	for _, want := range []string{
		"docker import --change 'CMD [\"/plumb\", \"hold\"]' --change 'USER 65534:65534'",
		"id=$(docker run -d --name web --hostname web --network=none --label org.plumbnet.plumb.sandbox=" + owner(m) +
			" --label org.plumbnet.plumb.sandbox.network=n --cap-drop=ALL --read-only --security-opt=no-new-privileges plumb/sandbox:",
		`pid=$(docker inspect -f '{{.State.Pid}}' "$id")`,
		`netns /proc/"$pid"/ns/net`,
		`ip link set "$veth" up`,
		`nsenter --net=/proc/"$pid"/ns/net ip route add default via 10.9.0.1 dev eth0`,
		`cat >>"$hosts" <<EOF`,
		`cp "$resolv" `,
		`"netnsInode": ${ino},`,
		`"id": "${id}",`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the script lacks %s\n%s", want, s)
		}
	}
	if strings.Contains(s, phID) || strings.Contains(s, "4242424242") || strings.Contains(s, "plumb-dry-run") {
		t.Errorf("a placeholder is left in the script:\n%s", s)
	}
	if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v %s\n%s", err, out, s)
	}
	if n := f.changes.Load(); n != 0 {
		t.Errorf("%d changing docker calls in a dry run", n)
	}
	if after := files(t, m.StateDir); after != before {
		t.Errorf("state dir changed:\n%s\n%s", before, after)
	}
}

// TestDryRemoveGone: the dry rm of a sandbox that is gone says so and
// changes nothing.
func TestDryRemoveGone(t *testing.T) {
	f := &fakeDocker{}
	m := sandboxManager(t, f)
	m.DryRun = &script.Script{}
	if err := DryRemove(context.Background(), m, "web"); err != nil {
		t.Fatal(err)
	}
	if s := m.DryRun.String(); !strings.Contains(s, "# sandbox web does not exist") || strings.Contains(s, "docker rm") {
		t.Errorf("script:\n%s", s)
	}
	if n := f.changes.Load(); n != 0 {
		t.Errorf("%d changing docker calls in a dry run", n)
	}
}

// files lists the paths under dir.
func files(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		out = append(out, p)
		return nil
	})
	return strings.Join(out, "\n")
}
