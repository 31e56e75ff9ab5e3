package nfwatch

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// genFilter is a classic BPF socket filter that keeps the datagrams whose
// first netlink message is an NFT_MSG_NEWGEN and drops the rest before
// they are queued (so they never count against the receive buffer either).
// The kernel sends each NEWGEN alone, after the transaction's other
// notifications (nf_tables_commit: nft_commit_notify, then
// nf_tables_gen_notify), so looking at the first message is enough.
//
//	ldh [4]                 ; nlmsghdr.nlmsg_type
//	jeq #NEWGEN, keep, drop
//	keep: ret #0xffffffff
//	drop: ret #0
func genFilter() []unix.SockFilter {
	// nlmsg_type is in host byte order; BPF loads big-endian.
	b := binary.NativeEndian.AppendUint16(nil, uint16(genType))
	want := uint32(binary.BigEndian.Uint16(b))
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: want},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
}

// attachGenFilter attaches genFilter to c. Equivalent to:
// setsockopt(SO_ATTACH_FILTER).
func attachGenFilter(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("attaching the NEWGEN filter: %w", err)
	}
	f := genFilter()
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
	}); err != nil {
		return fmt.Errorf("attaching the NEWGEN filter: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("attaching the NEWGEN filter: %w", serr)
	}
	return nil
}
