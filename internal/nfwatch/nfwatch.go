// Package nfwatch tells when the nf_tables ruleset of a network namespace
// changes: it listens to the kernel's nf_tables notifications (netlink
// multicast group NFNLGRP_NFTABLES) and reports each committed
// transaction once, by its NFT_MSG_NEWGEN message. Every nftables table is
// covered, so the rules iptables-nft writes (tables ip filter, ip nat, ...)
// and plumb's own table inet plumb alike.
//
// It lives apart from firewall/iptables and firewall/nftables, which both
// use it, since neither may import the other. It uses github.com/mdlayher/netlink
// rather than google/nftables's Monitor: the Monitor decodes every rule of
// a transaction (a flush of 1000 rules is 1000 notifications) into Go
// values nobody here reads, and stops for good when the socket overruns.
// Here a socket filter lets only the NEWGEN messages through, so the
// process wakes up once per transaction, and an overrun is reported as a
// change, never as the end.
package nfwatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Gen is one committed nf_tables transaction, by its NFT_MSG_NEWGEN
// notification: the ruleset's new generation number and the process that
// committed it. Lost is set instead when notifications were dropped (the
// socket's buffer overran): something changed, what is unknown.
type Gen struct {
	ID   uint32
	PID  uint32
	Comm string // the committing process's name, as in /proc/PID/comm
	Lost bool
}

// Listener is a subscription to a namespace's nf_tables notifications,
// open from Listen to Close.
type Listener struct {
	c *netlink.Conn
}

// genType is the netlink message type of NFT_MSG_NEWGEN.
const genType = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWGEN)

// Listen subscribes to the nf_tables notifications of the network
// namespace of the calling thread (a netlink socket belongs to the
// namespace it was made in for its whole life: lock the thread in the
// namespace, call Listen, then leave; Run may be called from any
// goroutine). Nothing is received until Run. The error wraps
// errors.ErrUnsupported when the kernel refuses: no nfnetlink or
// nf_tables, or no CAP_NET_ADMIN in the namespace. Equivalent to: the
// start of `nft monitor`.
func Listen() (*Listener, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, classify("opening a netfilter netlink socket", err)
	}
	// Without the filter every notification would wake Run; Run decodes
	// only NEWGEN messages anyway, so a kernel that refuses the filter
	// costs CPU, not correctness.
	_ = attachGenFilter(c)
	if err := c.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		_ = c.Close()
		return nil, classify("joining the nf_tables notification group", err)
	}
	return &Listener{c: c}, nil
}

// classify wraps err with what and, when the errno says the kernel will
// not notify this process, with errors.ErrUnsupported.
func classify(what string, err error) error {
	for _, no := range []unix.Errno{unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT, unix.EPERM, unix.EACCES, unix.ENOENT, unix.EOPNOTSUPP} {
		if errors.Is(err, no) {
			return fmt.Errorf("%s: %w: %w", what, errors.ErrUnsupported, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Close ends the subscription. It is safe to call twice.
func (l *Listener) Close() error {
	if err := l.c.Close(); err != nil && !errors.Is(err, unix.EBADF) {
		return fmt.Errorf("closing the nf_tables notification socket: %w", err)
	}
	return nil
}

// Run calls fn for each transaction committed in the listener's namespace,
// in order, from the calling goroutine, until ctx ends; then it returns
// nil. Notifications dropped by the kernel (the socket overran) are one
// call with Lost set. Any other receive error ends Run with that error. Run
// leaves no goroutine behind. Equivalent to: `nft monitor`, reading only
// its "# new generation" lines.
func (l *Listener) Run(ctx context.Context, fn func(Gen)) error {
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		// A deadline in the past wakes the pending Receive; the socket
		// stays open for Close.
		_ = l.c.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !stop() {
			<-done
		}
	}()
	for {
		msgs, err := l.c.Receive()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, unix.ENOBUFS) {
			fn(Gen{Lost: true})
			continue
		}
		if err != nil {
			return fmt.Errorf("receiving nf_tables notifications: %w", err)
		}
		for _, m := range msgs {
			if g, ok := decodeGen(m); ok {
				fn(g)
			}
		}
	}
}

// Watch is Listen, one call of changed, then Run calling changed for each
// transaction, then Close: what firewall.Watcher's Watch promises. The
// first call lets a caller who checks the rules on each call miss nothing
// that changed before the subscription.
func Watch(ctx context.Context, changed func()) error {
	l, err := Listen()
	if err != nil {
		return err
	}
	defer l.Close()
	changed()
	return l.Run(ctx, func(Gen) { changed() })
}

// decodeGen reads an NFT_MSG_NEWGEN message: a struct nfgenmsg, then the
// attributes NFTA_GEN_ID, NFTA_GEN_PROC_PID, NFTA_GEN_PROC_NAME.
func decodeGen(m netlink.Message) (Gen, bool) {
	if m.Header.Type != genType || len(m.Data) < 4 {
		return Gen{}, false
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return Gen{}, false
	}
	ad.ByteOrder = binary.BigEndian
	var g Gen
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_GEN_ID:
			g.ID = ad.Uint32()
		case unix.NFTA_GEN_PROC_PID:
			g.PID = ad.Uint32()
		case unix.NFTA_GEN_PROC_NAME:
			g.Comm = ad.String()
		}
	}
	return g, ad.Err() == nil
}
