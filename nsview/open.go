package nsview

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// handleAt opens a netlink socket of the given family inside the
// namespace at nsPath. netlink.NewHandleAt creates it on a locked thread
// that enters the namespace and comes back; the socket stays bound to the
// namespace for its whole life. The caller closes it.
func handleAt(nsPath string, family int) (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, family)
	if err != nil {
		return nil, fmt.Errorf("opening netlink in network namespace %s: %w", nsPath, err)
	}
	return h, nil
}
