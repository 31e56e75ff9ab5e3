package bridge

import (
	"fmt"

	"github.com/plumbnet/plumb/internal/netlinkerr"

	"github.com/vishvananda/netlink"
)

// Ports lists the names of the links plugged into bridge name. A bridge
// that does not exist has no ports. Equivalent to:
// `ip -o link show master NAME`.
func Ports(name string) ([]string, error) {
	idx, err := Index(name)
	if err != nil {
		return nil, err
	}
	links, err := netlinkerr.Dump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == idx {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}
