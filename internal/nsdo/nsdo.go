// Package nsdo runs a function on a thread inside another network
// namespace: for what netlink cannot reach from outside, such as the
// namespace's /proc/sys/net or a socket made there.
package nsdo

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on the calling goroutine's thread, locked and moved into ns
// for the call, then moved back. fn must not start goroutines that expect
// to be in ns. A thread that cannot be moved back stays locked and the
// runtime ends it with the goroutine; the error says so.
// Equivalent to: `nsenter --net=NS -- FN`.
func Do(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	cur, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer cur.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(cur); err != nil {
		return fmt.Errorf("going back to our namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}
