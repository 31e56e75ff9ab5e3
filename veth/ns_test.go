package veth

import (
	"os/exec"
	"testing"
	"time"

	"github.com/plumbnet/plumb/internal/testutil"
)

// TestPrivilegedNetNSCookieOfSelf: the same namespace, opened twice or
// read through an NS, has one cookie.
func TestPrivilegedNetNSCookieOfSelf(t *testing.T) {
	testutil.RequirePrivileged(t)
	c1, err := NetNSCookie("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := NetNSCookie("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	n, err := OpenNS("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c3, err := n.Cookie()
	if err != nil {
		t.Fatal(err)
	}
	if c1 == 0 || c1 != c2 || c1 != c3 {
		t.Fatalf("cookies of one namespace: %d %d %d", c1, c2, c3)
	}
}

// TestPrivilegedNetNSCookieNeverReused makes namespaces one after the
// other, each deleted before the next, until the kernel gives one the
// inode of a deleted one (it frees a namespace a moment after its last
// reference goes, hence the pause): their cookies still differ, and none
// is the test's own namespace's.
func TestPrivilegedNetNSCookieNeverReused(t *testing.T) {
	testutil.RequirePrivileged(t)
	self, err := NetNSCookie("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	cookies := map[uint64]bool{self: true}
	inodes := map[uint64]bool{}
	rounds, reused := 0, 0
	for ; rounds < 20 && (rounds < 3 || reused == 0); rounds++ {
		name := testutil.NewNetNS(t)
		path := "/var/run/netns/" + name
		n, err := OpenNS(path)
		if err != nil {
			t.Fatal(err)
		}
		c, cerr := n.Cookie()
		ino, ierr := n.Inode()
		n.Close()
		if cerr != nil || ierr != nil {
			t.Fatal(cerr, ierr)
		}
		if c2, err := NetNSCookie(path); err != nil || c2 != c {
			t.Fatalf("NetNSCookie of %s: %d %v, NS.Cookie said %d", name, c2, err, c)
		}
		if cookies[c] {
			t.Fatalf("namespace %d (inode %d) got cookie %d again", rounds, ino, c)
		}
		cookies[c] = true
		if inodes[ino] {
			reused++
		}
		inodes[ino] = true
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns del %s: %v %s", name, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d of %d namespaces got an inode seen before; no cookie was seen twice", reused, rounds)
}

// TestPrivilegedClosedNS: a closed NS reads nothing, rather than the
// caller's own namespace, and closing twice is fine.
func TestPrivilegedClosedNS(t *testing.T) {
	n, err := OpenNS("/var/run/netns/" + testutil.NewNetNS(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if c, err := n.Cookie(); err == nil {
		t.Fatalf("cookie of a closed NS: %d", c)
	}
	if in, err := n.Inspect(); err == nil {
		t.Fatalf("Inspect of a closed NS: %v", in)
	}
	if err := CheckPeer(n, PeerCheck{Name: "lo"}); err == nil {
		t.Fatal("CheckPeer in a closed NS succeeded")
	}
	if _, err := OpenNS("/var/run/netns/pnoSuchNS"); err == nil {
		t.Fatal("OpenNS of a missing path succeeded")
	}
}
