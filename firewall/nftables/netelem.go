package nftables

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/firewall"
)

// elem is one element of a set or map of NetTable, as plumb writes and
// reads it: key and val are the raw bytes of the key and the data (for
// the icc verdict map, "accept" or "drop").
type elem struct {
	set, key, val, comment string
}

// netComment is the comment of a network's elements: "plumb:NAME".
func netComment(name string) string { return "plumb:" + name }

// portComment is the comment of an owner's port elements:
// "plumb:NAME/OWNER".
func portComment(name, owner string) string { return netComment(name) + "/" + owner }

// maxComment is the longest element comment the kernel keeps (its user
// data is at most 256 bytes, the type, length and NUL included).
const maxComment = 250

// ownedBy reports whether comment is network name's: "plumb:NAME" or
// "plumb:NAME/OWNER".
func ownedBy(comment, name string) bool {
	c := netComment(name)
	return comment == c || strings.HasPrefix(comment, c+"/")
}

// netElems are the elements network n puts in the bridge-keyed sets.
func netElems(n firewall.Network) []elem {
	br, c := string(ifnameKey(n.Bridge)), netComment(n.Name)
	icc := "drop"
	if n.ICC {
		icc = "accept"
	}
	out := []elem{{set: SetBridges, key: br, comment: c}, {set: MapICC, key: br + br, val: icc, comment: c}}
	if n.Internal {
		return append(out, elem{set: SetInternal, key: br, comment: c})
	}
	if n.Masquerade {
		out = append(out, elem{set: SetMasquerade, key: br, comment: c})
	}
	return append(out, elem{set: SetNAT, key: br, comment: c}, elem{set: SetNATSubnets, key: subnetKey(br, n.Subnet), comment: c})
}

// subnetKey is the key of "BR" . SUBNET in nat_subnets as plumb models
// it: the range's first key (ifname . first address) then its last
// (ifname . last address), 40 bytes.
func subnetKey(br string, p netip.Prefix) string {
	p = p.Masked()
	first, last := p.Addr().As4(), p.Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	return br + string(first[:]) + br + string(last[:])
}

// portElems are the elements publishing ports for owner on the network
// named name: one per port, in the map its host address calls for.
func portElems(name, owner string, ports []firewall.Port) []elem {
	c := portComment(name, owner)
	var out []elem
	for _, p := range ports {
		proto := byte(unix.IPPROTO_TCP)
		if p.Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		ps := []byte{proto, 0, 0, 0, byte(p.HostPort >> 8), byte(p.HostPort), 0, 0}
		ca := p.ContainerIP.As4()
		val := string(append(ca[:], byte(p.ContainerPort>>8), byte(p.ContainerPort), 0, 0))
		switch {
		case !p.HostIP.IsValid() || p.HostIP.IsUnspecified():
			out = append(out, elem{set: MapPorts, key: string(ps), val: val, comment: c})
		case p.HostIP.IsLoopback():
			ha := p.HostIP.As4()
			out = append(out, elem{set: MapLoopPorts, key: string(append(ha[:], ps...)), val: val, comment: c})
		default:
			ha := p.HostIP.As4()
			out = append(out, elem{set: MapAddrPorts, key: string(append(ha[:], ps...)), val: val, comment: c})
		}
	}
	return out
}

// setElement is e as google/nftables writes it.
func (e elem) setElement() nft.SetElement {
	se := nft.SetElement{Key: []byte(e.key), Comment: e.comment}
	switch {
	case e.set == SetNATSubnets && len(e.key) == 40:
		se.Key, se.KeyEnd = []byte(e.key[:20]), []byte(e.key[20:])
	case e.set == MapICC:
		k := expr.VerdictDrop
		if e.val == "accept" {
			k = expr.VerdictAccept
		}
		se.VerdictData = &expr.Verdict{Kind: k}
	case e.val != "":
		se.Val = []byte(e.val)
	}
	return se
}

// elemOf is the element se of set as plumb models it.
func elemOf(set string, se nft.SetElement) elem {
	e := elem{set: set, key: string(se.Key), comment: se.Comment}
	switch set {
	case SetNATSubnets:
		e.key += string(se.KeyEnd)
	case MapICC:
		e.val = verdictName(se.Val)
	default:
		e.val = string(se.Val)
	}
	return e
}

// verdictName reads the nested verdict attributes google/nftables leaves
// in a verdict map element's Val: "accept", "drop", or what else.
func verdictName(b []byte) string {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return "?"
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		if ad.Type() == unix.NFTA_VERDICT_CODE {
			switch int32(ad.Uint32()) {
			case 1:
				return "accept"
			case 0:
				return "drop"
			default:
				return fmt.Sprintf("verdict %d", int32(ad.Uint32()))
			}
		}
	}
	return "?"
}

// text is e as nft writes it in `add element ... { TEXT }`: its key, its
// comment, then for a map ": VALUE" (nft takes the comment after the key,
// not after the value).
func (e elem) text() string {
	k, v := e.keyText(), e.valText()
	if e.comment != "" {
		k += fmt.Sprintf(" comment %q", e.comment)
	}
	if v != "" {
		k += " : " + v
	}
	return k
}

// keyText is e's key as nft writes it.
func (e elem) keyText() string {
	k := []byte(e.key)
	switch e.set {
	case MapICC:
		if len(k) == 32 {
			return fmt.Sprintf("%q . %q", ifnameOf(k[:16]), ifnameOf(k[16:]))
		}
	case SetNATSubnets:
		if len(k) == 40 {
			return fmt.Sprintf("%q . %s-%s", ifnameOf(k[:16]), netip.AddrFrom4([4]byte(k[16:20])), netip.AddrFrom4([4]byte(k[36:40])))
		}
	case MapPorts:
		return protoPort(k)
	case MapAddrPorts, MapLoopPorts:
		if len(k) == 12 {
			return netip.AddrFrom4([4]byte(k[:4])).String() + " . " + protoPort(k[4:])
		}
	default:
		return fmt.Sprintf("%q", ifnameOf(k))
	}
	return "?"
}

// valText is e's data as nft writes it, "" for an element of a set.
func (e elem) valText() string {
	switch e.set {
	case MapICC:
		return e.val
	case MapPorts, MapAddrPorts, MapLoopPorts:
		return addrPort([]byte(e.val))
	}
	return ""
}

func protoPort(b []byte) string {
	if len(b) < 8 {
		return "?"
	}
	proto := map[byte]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}[b[0]]
	return fmt.Sprintf("%s . %d", proto, int(b[4])<<8|int(b[5]))
}

func addrPort(b []byte) string {
	if len(b) < 8 {
		return "?"
	}
	return fmt.Sprintf("%s . %d", netip.AddrFrom4([4]byte(b[:4])), int(b[4])<<8|int(b[5]))
}

// elemCmd is the nft command that adds (verb "add") or deletes e.
func elemCmd(verb string, e elem) string {
	t := e.text()
	if verb == "delete" {
		t = e.keyText()
	}
	return fmt.Sprintf("%s element inet %s %s { %s }", verb, NetTable, e.set, t)
}
