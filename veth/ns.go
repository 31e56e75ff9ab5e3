package veth

import (
	"fmt"

	"github.com/plumbnet/plumb/internal/netnscookie"
	"github.com/plumbnet/plumb/internal/nsdo"
	"github.com/plumbnet/plumb/internal/sysctl"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is an open network namespace on the peer side of a pair: a handle on
// the namespace (for Pair.NetNS and Retire) and a NETLINK_ROUTE socket
// opened inside it, through which Inspect, Configure and CheckPeer work
// without entering the namespace again. Close releases both. An NS is for
// one goroutine at a time.
type NS struct {
	path   string
	ns     netns.NsHandle
	h      *netlink.Handle
	cookie uint64 // 0 until Cookie has read it
}

// OpenNS opens the network namespace at path (a /proc/PID/ns/net or a
// /var/run/netns/NAME) and a netlink socket inside it. The namespace stays
// alive as long as the NS is open, even if path goes away.
// Equivalent to: `ip -n NAME ...` for what follows, on one socket.
func OpenNS(path string) (*NS, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	// NETLINK_ROUTE only: each family costs its own setns round trip.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("opening netlink in network namespace %s: %w", path, err)
	}
	return &NS{path: path, ns: ns, h: h}, nil
}

// Path is the path the namespace was opened from.
func (n *NS) Path() string { return n.path }

// Handle is the namespace's handle, for Pair.NetNS and Retire. It is valid
// until Close.
func (n *NS) Handle() netns.NsHandle { return n.ns }

// Inspect reads the interface names and IPv4 default route of the
// namespace. Equivalent to: `ip -n NS -o link; ip -n NS route show default`.
func (n *NS) Inspect() (Inside, error) {
	h, err := n.rtnl()
	if err != nil {
		return Inside{}, err
	}
	return Inspect(h)
}

// Configure sets up the peer p inside the namespace, as Configure does.
// With an IPv6 address it first turns IPv6 on and router advertisements
// off on the peer, from inside the namespace: netlink cannot set them.
func (n *NS) Configure(p Peer) error {
	h, err := n.rtnl()
	if err != nil {
		return err
	}
	if p.Addr6.IsValid() {
		if err := nsdo.Do(n.ns, func() error { return sysctl.EnableIPv6NoRA(p.Name) }); err != nil {
			return fmt.Errorf("turning router advertisements off on %q: %w", p.Name, err)
		}
	}
	return Configure(h, p)
}

// rtnl is the netlink socket inside the namespace. A closed netlink.Handle
// would silently work on the caller's own namespace: after Close there is
// none, and an error says so.
func (n *NS) rtnl() (*netlink.Handle, error) {
	if n.h == nil {
		return nil, fmt.Errorf("network namespace %s is closed", n.path)
	}
	return n.h, nil
}

// Cookie returns the namespace's cookie (SO_NETNS_COOKIE): a number the
// kernel gives each network namespace at its creation and never gives
// another, unlike the namespace's inode, which a namespace made after this
// one is gone may get again. An endpoint keyed by cookie is never taken
// for one in a new namespace. The first call opens one socket inside the
// namespace; later calls return the number read then.
// Equivalent to: getsockopt(SO_NETNS_COOKIE) on a socket made in NS.
func (n *NS) Cookie() (uint64, error) {
	if n.cookie != 0 {
		return n.cookie, nil
	}
	c, err := cookieOf(n.ns)
	if err != nil {
		return 0, fmt.Errorf("network namespace %s: %w", n.path, err)
	}
	n.cookie = c
	return c, nil
}

// Inode returns the inode of the namespace, what `ls -iL PATH` shows. The
// kernel reuses it once the namespace is gone: prefer Cookie to tell
// namespaces apart.
func (n *NS) Inode() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(n.ns), &st); err != nil {
		return 0, fmt.Errorf("reading network namespace %s: %w", n.path, err)
	}
	return st.Ino, nil
}

// Close closes the netlink socket and the namespace handle. It is safe to
// call twice.
func (n *NS) Close() error {
	if n.h != nil {
		n.h.Close()
		n.h = nil
	}
	if n.ns.IsOpen() {
		err := n.ns.Close()
		n.ns = netns.None()
		return err
	}
	return nil
}

// NetNSCookie returns the cookie of the network namespace at path (see
// NS.Cookie), opening it for the time of the read.
func NetNSCookie(path string) (uint64, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return 0, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer ns.Close()
	c, err := cookieOf(ns)
	if err != nil {
		return 0, fmt.Errorf("network namespace %s: %w", path, err)
	}
	return c, nil
}

// cookieOf reads the cookie of ns (package netnscookie).
func cookieOf(ns netns.NsHandle) (uint64, error) { return netnscookie.Of(ns) }
