package veth

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/plumbnet/plumb/internal/netlinkerr"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The survey reads, from the host's namespace, what `plumb ps` needs to
// tell whether each endpoint is whole: the host's links (each veth end
// with its peer's index and the id the host knows the peer's namespace
// by), the id of the namespace behind a path, and a link of a namespace
// with its addresses by that id, without entering it (the kernel's
// IFLA_TARGET_NETNSID and IFA_TARGET_NETNSID, Linux 4.20), over sockets it
// keeps: a netlink socket costs more to make than a question costs to ask.
// Only routes cannot be read from outside.

// HostEnd is what the host's link table says of one link.
type HostEnd struct {
	Name        string
	Index       int
	MasterIndex int  // the bridge it is plugged into, 0 when none
	Up          bool // administratively up
	// Carrier: the link can carry traffic; for a veth, both ends are up
	// (a veth has carrier only while its peer is up too).
	Carrier   bool
	Veth      bool
	PeerIndex int // a veth's peer's index, in the peer's namespace
	PeerNSID  int // the id of the peer's namespace here, -1 when unknown or this one
}

// HostLinks lists every link of the calling thread's namespace, by name:
// one RTM_GETLINK dump, of which it reads only the attributes a survey
// needs (a full parse of every link's statistics and settings cost more
// than the dump). Equivalent to: `ip -d link show`.
func HostLinks() (map[string]HostEnd, error) {
	sock, err := strictSocket()
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr), Type: unix.RTM_GETLINK, Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP},
		Sockets:  map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock},
	}
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	// No statistics: filling them in was most of the kernel's work.
	req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(rtextFilterSkipStats)))
	out, err := netlinkerr.Dump(func() (map[string]HostEnd, error) {
		out := map[string]HostEnd{}
		err := req.ExecuteIter(unix.NETLINK_ROUTE, unix.RTM_NEWLINK, func(m []byte) bool {
			if e, ok := parseHostEnd(m); ok {
				out[e.Name] = e
			}
			return true
		})
		return out, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	return out, nil
}

// parseHostEnd reads what a survey needs of one RTM_NEWLINK message.
func parseHostEnd(m []byte) (HostEnd, bool) {
	msg := nl.DeserializeIfInfomsg(m)
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return HostEnd{}, false
	}
	e := HostEnd{Index: int(msg.Index), Up: msg.Flags&unix.IFF_UP != 0, Carrier: msg.Flags&unix.IFF_LOWER_UP != 0, PeerNSID: -1}
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFLA_IFNAME:
			e.Name = strings.TrimRight(string(a.Value), "\x00")
		case unix.IFLA_MASTER:
			e.MasterIndex = int(native.Uint32(a.Value))
		case unix.IFLA_LINK:
			e.PeerIndex = int(native.Uint32(a.Value))
		case unix.IFLA_LINK_NETNSID:
			e.PeerNSID = int(int32(native.Uint32(a.Value)))
		case unix.IFLA_LINKINFO:
			e.Veth = linkKind(a.Value) == "veth"
		}
	}
	return e, e.Name != ""
}

// linkKind is IFLA_INFO_KIND inside an IFLA_LINKINFO attribute.
func linkKind(b []byte) string {
	attrs, err := nl.ParseRouteAttr(b)
	if err != nil {
		return ""
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.IFLA_INFO_KIND {
			return strings.TrimRight(string(a.Value), "\x00")
		}
	}
	return ""
}

// native is the byte order netlink attributes are in.
var native = nl.NativeEndian()

// Survey asks the kernel about other namespaces from the calling thread's
// namespace, over netlink sockets it keeps open for its life (a netlink
// socket costs more to make than a question costs to ask). It is for one
// goroutine at a time; Close releases it.
type Survey struct {
	h    *netlink.Handle  // NETLINK_ROUTE, for RTM_GETNSID
	sock *nl.SocketHandle // NETLINK_ROUTE with strict checking, for the target-namespace requests
}

// NewSurvey opens a survey's sockets in the calling thread's namespace.
func NewSurvey() (*Survey, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening a netlink socket: %w", err)
	}
	sock, err := strictSocket()
	if err != nil {
		h.Close()
		return nil, err
	}
	return &Survey{h: h, sock: sock}, nil
}

// Close closes the survey's sockets.
func (s *Survey) Close() {
	s.h.Close()
	s.sock.Close()
}

// NSID returns the id the survey's namespace knows the network namespace at
// path by, or -1 when it has given it none (no veth of ours has its peer
// there). A missing path is an error matching fs.ErrNotExist. Equivalent
// to: `ip netns list-id` for the namespace at path.
func (s *Survey) NSID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	id, err := s.h.GetNetNsIdByFd(int(f.Fd()))
	if err != nil {
		return -1, fmt.Errorf("asking the id of network namespace %s: %w", path, err)
	}
	return id, nil
}

// PeerAddrs lists the addresses of the link of index in the namespace
// the survey's namespace knows by nsid, without entering it: an address
// dump with a target namespace id (a get of the link itself would cost the
// kernel a walk of every namespace id the host holds, to fill in the
// link's peer). A link that is not there has none. Equivalent to:
// `ip -n NS addr show dev IFNAME`.
func (s *Survey) PeerAddrs(nsid, index int) ([]netip.Prefix, error) {
	req := s.request(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	ifa := nl.NewIfAddrmsg(unix.AF_UNSPEC)
	ifa.Index = uint32(index)
	req.AddData(ifa)
	req.AddData(nl.NewRtAttr(unix.IFA_TARGET_NETNSID, nl.Uint32Attr(uint32(nsid))))
	msgs, err := netlinkerr.Dump(func() ([][]byte, error) { return req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR) })
	if errors.Is(err, unix.ENODEV) {
		return nil, nil // no such link: no address
	}
	if err != nil {
		return nil, fmt.Errorf("listing the addresses of link %d of namespace id %d: %w", index, nsid, err)
	}
	var out []netip.Prefix
	for _, m := range msgs {
		if idx, a, ok := parseAddr(m); ok && idx == index {
			out = append(out, a)
		}
	}
	return out, nil
}

// HasRoute reports whether the main table of the namespace at path has a
// route to r.Dst, via r.Gateway when it is valid. Routes cannot be read
// from outside: it makes one socket inside. Equivalent to:
// `ip -n NS route show table main DST`.
func (s *Survey) HasRoute(path string, r Route) (bool, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return false, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return false, fmt.Errorf("opening netlink in network namespace %s: %w", path, err)
	}
	defer h.Close()
	return hasRoute(h, r)
}

// request is a request of kind proto on the survey's strict socket.
func (s *Survey) request(proto, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr), Type: uint16(proto), Flags: unix.NLM_F_REQUEST | uint16(flags)},
		Sockets:  map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: s.sock},
	}
}

// strictSocket is a NETLINK_ROUTE socket in the calling thread's namespace
// with strict checking on: the kernel reads IFA_TARGET_NETNSID of an
// address dump only then (and checks the rest of the request strictly).
func strictSocket() (*nl.SocketHandle, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening a netlink socket: %w", err)
	}
	if err := unix.SetsockoptInt(s.GetFd(), unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1); err != nil {
		s.Close()
		return nil, fmt.Errorf("netlink strict checking: %w", err)
	}
	return &nl.SocketHandle{Socket: s}, nil
}

// parseAddr reads an RTM_NEWADDR message: the link's index and the
// address with its prefix length.
func parseAddr(m []byte) (int, netip.Prefix, bool) {
	msg := nl.DeserializeIfAddrmsg(m)
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return 0, netip.Prefix{}, false
	}
	var addr netip.Addr
	for _, a := range attrs {
		// IFA_LOCAL is the address itself on point-to-point links;
		// IFA_ADDRESS otherwise (and the peer's on point-to-point).
		if a.Attr.Type == unix.IFA_LOCAL || (a.Attr.Type == unix.IFA_ADDRESS && !addr.IsValid()) {
			if ip, ok := netip.AddrFromSlice(a.Value); ok {
				addr = ip.Unmap()
			}
		}
	}
	if !addr.IsValid() {
		return 0, netip.Prefix{}, false
	}
	return int(msg.Index), netip.PrefixFrom(addr, int(msg.Prefixlen)), true
}

// rtextFilterSkipStats is RTEXT_FILTER_SKIP_STATS (linux/rtnetlink.h).
const rtextFilterSkipStats = 1 << 3
