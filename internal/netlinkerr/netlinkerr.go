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

// dumpTries bounds Dump's attempts.
const dumpTries = 5

// Dump runs a netlink dump (a list of links, addresses, routes) again when
// the kernel says it was interrupted (NLM_F_DUMP_INTR: the list changed
// while it was read, as it does while other plumbs attach), up to a few
// times: a check must not report drift from a torn read. The last
// attempt's result is returned, with its error.
func Dump[T any](list func() (T, error)) (T, error) {
	var out T
	var err error
	for range dumpTries {
		out, err = list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}
