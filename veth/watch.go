package veth

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Watch calls changed with the index of every link of the calling
// thread's namespace that appears, goes, changes, or gains or loses an
// address, until ctx ends; then it returns nil. It returns at once with an
// error when the kernel refuses the subscriptions, and when one breaks.
// changed runs on Watch's goroutine: it must not block. Equivalent to:
// `ip monitor link address`.
func Watch(ctx context.Context, changed func(index int)) error {
	links := make(chan netlink.LinkUpdate, 256)
	addrs := make(chan netlink.AddrUpdate, 256)
	broken := make(chan error, 2)
	onErr := func(err error) {
		select {
		case broken <- err:
		default:
		}
	}
	done := ctx.Done()
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{ErrorCallback: onErr}); err != nil {
		return fmt.Errorf("watching links: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{ErrorCallback: onErr}); err != nil {
		return fmt.Errorf("watching addresses: %w", err)
	}
	for {
		select {
		case <-done:
			return nil
		case err := <-broken:
			return fmt.Errorf("watching links: %w", err)
		case u, ok := <-links:
			if !ok {
				return ended(ctx, "links")
			}
			changed(int(u.Index))
		case u, ok := <-addrs:
			if !ok {
				return ended(ctx, "addresses")
			}
			changed(u.LinkIndex)
		}
	}
}

// ended is what a subscription that closed means: nil when ctx ended it.
func ended(ctx context.Context, what string) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("watching %s: the subscription ended", what)
}
