package veth

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Change is one link or address notification of the host's namespace.
type Change struct {
	Index int    // the link's index
	Name  string // the link's name; "" for an address change
	// Gone: the link was deleted, or (Addr) the address was removed.
	Gone        bool
	Up          bool // administratively up (links only)
	MasterIndex int  // the bridge it is plugged into, 0 when none (links only)
	Addr        bool // an address change, of the link Index
}

// Watch calls changed with every link of the calling thread's namespace
// that appears, goes or changes, and every address added or removed,
// until ctx ends; then it returns nil. It returns at once with an error
// when the kernel refuses the subscriptions, and when one breaks (the
// caller subscribes again, and checks what it may have missed). changed
// runs on Watch's goroutine: it must not block. Equivalent to: `ip
// monitor link address`.
func Watch(ctx context.Context, changed func(Change)) error {
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
			changed(linkChange(u))
		case u, ok := <-addrs:
			if !ok {
				return ended(ctx, "addresses")
			}
			changed(Change{Index: u.LinkIndex, Gone: !u.NewAddr, Addr: true})
		}
	}
}

// linkChange is what Watch tells of a link notification.
func linkChange(u netlink.LinkUpdate) Change {
	c := Change{Index: int(u.Index), Gone: u.Header.Type == unix.RTM_DELLINK, Up: u.Flags&unix.IFF_UP != 0}
	if u.Link != nil {
		a := u.Link.Attrs()
		c.Name, c.MasterIndex = a.Name, a.MasterIndex
	}
	return c
}

// ended is what a subscription that closed means: nil when ctx ended it.
func ended(ctx context.Context, what string) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("watching %s: the subscription ended", what)
}
