package netlinkerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/internal/testutil"
)

func TestIsNotFound(t *testing.T) {
	for _, err := range []error{
		netlink.LinkNotFoundError{},
		unix.ENODEV,
		unix.ENOENT,
		fmt.Errorf("deleting veth %q: %w", "x", unix.ENODEV),
	} {
		if !IsNotFound(err) {
			t.Errorf("%v: not a not-found", err)
		}
	}
	for _, err := range []error{nil, unix.EPERM, unix.EEXIST, errors.New("Link not found")} {
		if IsNotFound(err) {
			t.Errorf("%v: taken for a not-found", err)
		}
	}
}

// TestPrivilegedIsNotFound checks the errors the kernel and the netlink
// library really return for a missing link, in a namespace of the test's.
func TestPrivilegedIsNotFound(t *testing.T) {
	nsh, err := netns.GetFromPath("/var/run/netns/" + testutil.NewNetNS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.LinkByName("pnoSuchLink0"); !IsNotFound(err) {
		t.Errorf("LinkByName of a missing link: %v", err)
	}
	if _, err := h.LinkByIndex(1 << 30); !IsNotFound(err) {
		t.Errorf("LinkByIndex of a missing link: %v", err)
	}
}
