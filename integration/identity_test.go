package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/testutil"
)

// inodeOf is the inode of the namespace file at path.
func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestPrivilegedReusedInodeIsANewTarget (issue 13, defect 1): the kernel
// gives a deleted namespace's inode to a new one; a new namespace with
// that inode is a new target: it gets an address of its own and none of
// the old endpoint's published ports, and the old endpoint's record stays
// as it was (stale) until it is detached.
func TestPrivilegedReusedInodeIsANewTarget(t *testing.T) {
	h := newHost(t)
	h.must("network", "create", "ino", "--subnet", "10.231.40.0/24")
	a := target(t)
	ino := inodeOf(t, "/var/run/netns/"+a)
	h.must("attach", "netns:"+a, "--net", "ino", "-p", "8095:80")
	ipA := h.epIP("netns:"+a, "ino")
	// The daemon's listener in a keeps a's namespace (and its inode)
	// alive: without it, deleting a frees both.
	h.stopDaemon()
	testutil.Run(t, "ip", "netns", "del", a)

	// Namespaces made now may get a's inode: keep the first that does.
	var b string
	for i := 0; i < 200 && b == ""; i++ {
		name := target(t)
		if inodeOf(t, "/var/run/netns/"+name) == ino {
			b = name
		} else {
			testutil.Run(t, "ip", "netns", "del", name)
		}
	}
	if b == "" {
		t.Skip("the kernel gave no new namespace the deleted one's inode in 200 tries")
	}
	h.must("attach", "netns:"+b, "--net", "ino")
	eb := h.endpointOf("netns:"+b, "ino")
	if eb.IP.Addr().String() == ipA || len(eb.Ports) != 0 {
		t.Fatalf("a new namespace with the old one's inode got its endpoint: %s (old %s), ports %v", eb.IP, ipA, eb.Ports)
	}
	if eb.State != "up" {
		t.Fatalf("the new target's endpoint: %s %s", eb.State, eb.Reason)
	}
	ea := h.endpointOf("netns:"+a, "ino")
	if ea.IP.Addr().String() != ipA || len(ea.Ports) != 1 || ea.State != "stale" {
		t.Fatalf("the old endpoint: %s %v %s, want %s with its port, stale", ea.IP, ea.Ports, ea.State, ipA)
	}
	if out := h.must("detach", "netns:"+a); !strings.Contains(out, "detached") {
		t.Fatalf("detach of the old target: %q", out)
	}
	if ps := h.must("ps"); !strings.Contains(ps, "netns:"+b) || strings.Contains(ps, "netns:"+a) {
		t.Fatalf("after detaching the old target:\n%s", ps)
	}
}

// TestPrivilegedRecordNamesAForeignLink (issue 13, defect 7): a record
// whose host veth names a link that is not plumb's does not have detach
// or rm --force delete that link; plumb's own veth goes.
func TestPrivilegedRecordNamesAForeignLink(t *testing.T) {
	h := newHost(t)
	mustSh(t, h, "ip", "link", "add", "foreign0", "type", "bridge")
	mustSh(t, h, "ip", "link", "add", "vethf0", "type", "veth", "peer", "name", "vethf1")
	if h.own == nil {
		h.own = map[string]bool{}
	}
	h.own["foreign0"], h.own["vethf0"], h.own["vethf1"] = true, true, true
	h.must("network", "create", "fl", "--subnet", "10.231.41.0/24")
	before := h.snapshot()
	for _, foreign := range []string{"foreign0", "vethf0"} {
		x := target(t)
		h.must("attach", "netns:"+x, "--net", "fl")
		ep := h.endpointOf("netns:"+x, "fl")
		rec := filepath.Join(h.state, "networks", "fl", "endpoints", ep.ID+".json")
		b, err := os.ReadFile(rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rec, []byte(strings.Replace(string(b), `"hostVeth": "`+ep.HostVeth+`"`, `"hostVeth": "`+foreign+`"`, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		h.must("detach", "netns:"+x)
		if out, err := h.sh("ip", "link", "show", foreign); err != nil {
			t.Fatalf("detach of a record naming %s deleted it: %v %s", foreign, err, out)
		}
		if after := h.snapshot(); after != before {
			t.Fatalf("detach of a record naming %s left:\n%s\nwas:\n%s", foreign, after, before)
		}
	}
	// The same through rm --force.
	x := target(t)
	h.must("attach", "netns:"+x, "--net", "fl")
	ep := h.endpointOf("netns:"+x, "fl")
	rec := filepath.Join(h.state, "networks", "fl", "endpoints", ep.ID+".json")
	b, _ := os.ReadFile(rec)
	os.WriteFile(rec, []byte(strings.Replace(string(b), `"hostVeth": "`+ep.HostVeth+`"`, `"hostVeth": "foreign0"`, 1)), 0o644)
	h.must("network", "rm", "--force", "fl")
	if out, err := h.sh("ip", "link", "show", "foreign0"); err != nil {
		t.Fatalf("rm --force of a record naming foreign0 deleted it: %v %s", err, out)
	}
	if out, _ := h.sh("ip", "-o", "link"); strings.Contains(out, ep.HostVeth) {
		t.Fatalf("rm --force left plumb's own veth %s:\n%s", ep.HostVeth, out)
	}
}
