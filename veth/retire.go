package veth

import (
	"fmt"
	"strconv"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/internal/netlinkerr"
)

// RetiredPrefix starts the name of a pair Retire took out of service: the
// prefix and the link's own index, which fits the 15 bytes of an interface
// name for any index (at most 10 digits).
const RetiredPrefix = "pgone"

// Retired is a pair Retire took out of service, for DeleteRetired.
type Retired struct {
	Name  string // the host end's name now, RetiredName of its index
	Index int    // the host end's index
}

// RetiredName is the name Retire gives the link with index idx.
func RetiredName(idx int) string { return RetiredPrefix + strconv.Itoa(idx) }

// IsRetired reports whether l is a veth end that Retire renamed: named
// RetiredName of its own index.
func IsRetired(l netlink.Link) bool {
	_, ok := l.(*netlink.Veth)
	return ok && l.Attrs().Name == RetiredName(l.Attrs().Index)
}

// Retire takes the pair whose host end is hostName out of service at once,
// so that its deletion, which costs the kernel 15-30 ms of RCU grace
// periods, can happen later and elsewhere (DeleteRetired). Both ends go
// down, which cuts the namespace off, and both are renamed (RetiredName),
// which frees the names for a new pair at once: the same target can be
// attached again before the old pair is gone. The peer is renamed only
// when peer (the namespace it lives in) is open, not nil, and peerName is
// still this pair's end. A pair that is gone already returns nil. When the host
// end is retired but the peer step fails, the Retired is returned with the
// error: deleting it still removes both ends.
//
// Equivalent to:
//
//	ip link set HOST down; ip link set HOST name pgoneIDX
//	ip -n NS link set PEER down; ip -n NS link set PEER name pgonePIDX
func Retire(hostName string, peer *NS, peerName string) (*Retired, error) {
	link, err := netlink.LinkByName(hostName)
	if err != nil {
		if netlinkerr.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("finding veth %q: %w", hostName, err)
	}
	if _, ok := link.(*netlink.Veth); !ok {
		return nil, fmt.Errorf("retiring veth %q: the link %w, not touching it", hostName, ErrNotVeth)
	}
	idx := link.Attrs().Index
	tomb := RetiredName(idx)
	if err := netlink.LinkSetDown(link); err != nil {
		if netlinkerr.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("taking veth %q down: %w", hostName, err)
	}
	if err := netlink.LinkSetName(link, tomb); err != nil {
		if netlinkerr.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("renaming veth %q: %w", hostName, err)
	}
	r := &Retired{Name: tomb, Index: idx}
	if peer == nil || peerName == "" {
		return r, nil
	}
	h, err := peer.rtnl()
	if err != nil {
		return r, err
	}
	pl, err := h.LinkByName(peerName)
	if err != nil {
		if netlinkerr.IsNotFound(err) {
			return r, nil
		}
		return r, fmt.Errorf("finding %q in the namespace: %w", peerName, err)
	}
	// Only the end of this pair: IFLA_LINK of a veth names its peer's index.
	if _, ok := pl.(*netlink.Veth); !ok || pl.Attrs().ParentIndex != idx {
		return r, nil
	}
	if err := h.LinkSetDown(pl); err != nil && !netlinkerr.IsNotFound(err) {
		return r, fmt.Errorf("taking %q down in the namespace: %w", peerName, err)
	}
	if err := h.LinkSetName(pl, RetiredName(pl.Attrs().Index)); err != nil && !netlinkerr.IsNotFound(err) {
		return r, fmt.Errorf("renaming %q in the namespace: %w", peerName, err)
	}
	return r, nil
}

// DeleteRetired deletes the pair r, if its host end still has index
// r.Index and name r.Name: a link made since under the same name is not
// touched. Equivalent to: `ip link del pgoneIDX`.
func DeleteRetired(r *Retired) error {
	link, err := netlink.LinkByIndex(r.Index)
	if err != nil || link.Attrs().Name != r.Name {
		return nil
	}
	if err := netlink.LinkDel(link); err != nil && !netlinkerr.IsNotFound(err) {
		return fmt.Errorf("deleting veth %q: %w", r.Name, err)
	}
	return nil
}

// ListRetired returns the pairs Retire took out of service that are still
// in the current namespace: those a deletion was never asked for, or
// whose deletion was cut short. Equivalent to:
// `ip -o link show type veth | grep pgone`, keeping the names RetiredName
// gives their own index.
func ListRetired() ([]Retired, error) {
	links, err := netlinkerr.Dump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	var out []Retired
	for _, l := range links {
		if IsRetired(l) {
			out = append(out, Retired{Name: l.Attrs().Name, Index: l.Attrs().Index})
		}
	}
	return out, nil
}
