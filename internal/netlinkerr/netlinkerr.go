// Package netlinkerr classifies the errors of netlink calls, so that bridge
// and veth, which must not import each other, agree on what "gone" means.
package netlinkerr

import (
	"errors"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// IsNotFound reports whether err says the link asked for does not exist:
// netlink's LinkNotFoundError (a lookup by name that found nothing), ENODEV
// (a link gone by index, or deleted under the caller) or ENOENT. Equivalent
// to `ip link show NAME` failing with "Device does not exist".
func IsNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}
