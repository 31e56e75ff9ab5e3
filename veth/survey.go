package veth

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The survey reads, from the host's namespace alone and without entering
// any other, what `plumb ps` needs to tell whether each endpoint is whole:
// the host's links (each veth end with its peer's index and the id the
// host knows the peer's namespace by), the id of the namespace behind a
// path, and the links and addresses of a namespace by that id (the
// kernel's IFLA_TARGET_NETNSID and IFA_TARGET_NETNSID, Linux 4.20). Two
// netlink dumps per namespace, where entering it costs a setns pair and a
// socket: ps over 1000 endpoints stays close to its cost without the checks.

// HostEnd is what the host's link table says of one link.
type HostEnd struct {
	Name        string
	Index       int
	MasterIndex int  // the bridge it is plugged into, 0 when none
	Up          bool // administratively up
	Veth        bool
	PeerIndex   int // a veth's peer's index, in the peer's namespace
	PeerNSID    int // the id of the peer's namespace here, -1 when unknown or this one
}

// HostLinks lists every link of the calling thread's namespace, by name:
// one RTM_GETLINK dump. Equivalent to: `ip -d link show`.
func HostLinks() (map[string]HostEnd, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	out := make(map[string]HostEnd, len(links))
	for _, l := range links {
		a := l.Attrs()
		_, isVeth := l.(*netlink.Veth)
		out[a.Name] = HostEnd{Name: a.Name, Index: a.Index, MasterIndex: a.MasterIndex,
			Up: a.Flags&net.FlagUp != 0, Veth: isVeth, PeerIndex: a.ParentIndex, PeerNSID: a.NetNsID}
	}
	return out, nil
}

// NSID returns the id the calling thread's namespace knows the network
// namespace at path by, or -1 when it has given it none (no veth of ours
// has its peer there). A missing path is an error matching fs.ErrNotExist.
// Equivalent to: `ip netns list-id` for the namespace at path.
func NSID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	id, err := netlink.GetNetNsIdByFd(int(f.Fd()))
	if err != nil {
		return -1, fmt.Errorf("asking the id of network namespace %s: %w", path, err)
	}
	return id, nil
}

// PeerLink is one link of another namespace, as a survey sees it.
type PeerLink struct {
	Name  string
	Up    bool
	Addrs []netip.Prefix
}

// Peers lists the links of the namespace the calling thread's namespace
// knows by nsid, by index, with their addresses, without entering it: two
// dumps with a target namespace id. Equivalent to:
// `ip -n NS -o link; ip -n NS -o addr` for the namespace of that id.
func Peers(nsid int) (map[int]*PeerLink, error) {
	sock, err := strictSocket()
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	req := dumpRequest(sock, unix.RTM_GETLINK)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_TARGET_NETNSID, nl.Uint32Attr(uint32(nsid))))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return nil, fmt.Errorf("listing the links of namespace id %d: %w", nsid, err)
	}
	out := make(map[int]*PeerLink, len(msgs))
	for _, m := range msgs {
		l, err := netlink.LinkDeserialize(nil, m)
		if err != nil {
			continue
		}
		a := l.Attrs()
		out[a.Index] = &PeerLink{Name: a.Name, Up: a.Flags&net.FlagUp != 0}
	}
	req = dumpRequest(sock, unix.RTM_GETADDR)
	req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFA_TARGET_NETNSID, nl.Uint32Attr(uint32(nsid))))
	msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
	if err != nil {
		return nil, fmt.Errorf("listing the addresses of namespace id %d: %w", nsid, err)
	}
	for _, m := range msgs {
		idx, p, ok := parseAddr(m)
		if l := out[idx]; ok && l != nil {
			l.Addrs = append(l.Addrs, p)
		}
	}
	return out, nil
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

// dumpRequest is a dump request of kind proto on sock.
func dumpRequest(sock *nl.SocketHandle, proto int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: uint32(unix.SizeofNlMsghdr), Type: uint16(proto), Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP},
		Sockets:  map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock},
	}
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
