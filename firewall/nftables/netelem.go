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

// netElems are the elements network n puts in the bridge-keyed sets:
// "BR" in bridges and icc always; in internal_bridges for an internal
// network; else, for each family, by its gateway mode (famElems).
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
	out = append(out, famElems(br, c, fam4, n.Subnet, n.Mode4, n.Masq4())...)
	return append(out, famElems(br, c, fam6, n.Subnet6, n.Mode6, n.Masq6())...)
}

// famElems are the elements of bridge br (comment c) for family f of
// subnet p in gateway mode mode: "BR" . FAMILY in isolated_families when
// the mode is isolated or there is no subnet of f (nothing of f in or out
// then); else the masquerade set of f when masq, "BR" . FAMILY in
// routed_families and protected_families for mode routed, in
// protected_families for IPv6 in mode nat (IPv4 in mode nat lets in what
// is routed to a container, as plumb always did), none for
// nat-unprotected; nat_bridges (IPv4: localhost to published ports) and
// "BR" . SUBNET in nat_subnets or nat_subnets6 (hairpin).
func famElems(br, c string, f family, p netip.Prefix, mode string, masq bool) []elem {
	fk := br + string([]byte{f.proto, 0, 0, 0})
	if !p.IsValid() || mode == firewall.ModeIsolated {
		return []elem{{set: SetIsolated, key: fk, comment: c}}
	}
	masqSet, subnets := SetMasquerade, SetNATSubnets
	if f == fam6 {
		masqSet, subnets = SetMasq6, SetNATSubnets6
	}
	var out []elem
	if masq {
		out = append(out, elem{set: masqSet, key: br, comment: c})
	}
	switch {
	case mode == firewall.ModeRouted:
		out = append(out, elem{set: SetRouted, key: fk, comment: c}, elem{set: SetProtected, key: fk, comment: c})
	case f == fam6 && (mode == "" || mode == firewall.ModeNAT):
		out = append(out, elem{set: SetProtected, key: fk, comment: c})
	}
	if f == fam4 {
		out = append(out, elem{set: SetNAT, key: br, comment: c})
	}
	return append(out, elem{set: subnets, key: subnetKey(br, p), comment: c})
}

// subnetKey is the key of "BR" . SUBNET in nat_subnets (nat_subnets6) as
// plumb models it: the range's first key (ifname . first address) then
// its last (ifname . last address), 40 bytes (64 for IPv6).
func subnetKey(br string, p netip.Prefix) string {
	p = p.Masked()
	first := p.Addr().AsSlice()
	last := p.Addr().AsSlice()
	for i := p.Bits(); i < len(last)*8; i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	return br + string(first) + br + string(last)
}

// portElems are the elements publishing ports for owner on the network
// named name: one per port in the DNAT map its family and host address
// call for, then one per container address and port (not bound to a
// loopback address) in published or published6, which mode routed lets
// in directly. A port of IPv6 bound to ::1 has none: IPv6 has no
// route_localnet, the daemon's proxy serves it.
func portElems(name, owner string, ports []firewall.Port) []elem {
	c := portComment(name, owner)
	var out, pub []elem
	seen := map[string]bool{}
	for _, p := range ports {
		if p.Is6() && p.HostIP.IsLoopback() {
			continue
		}
		proto := byte(unix.IPPROTO_TCP)
		if p.Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		ps := string([]byte{proto, 0, 0, 0, byte(p.HostPort >> 8), byte(p.HostPort), 0, 0})
		ca := string(p.ContainerIP.AsSlice())
		val := ca + string([]byte{byte(p.ContainerPort >> 8), byte(p.ContainerPort), 0, 0})
		out = append(out, elem{set: portMap(p), key: portKey(p, ps), val: val, comment: c})
		if p.HostIP.IsLoopback() {
			continue
		}
		e := elem{set: SetPublished, key: ca + string([]byte{proto, 0, 0, 0, byte(p.ContainerPort >> 8), byte(p.ContainerPort), 0, 0}), comment: c}
		if p.Is6() {
			e.set = SetPublished6
		}
		if !seen[e.set+e.key] {
			seen[e.set+e.key] = true
			pub = append(pub, e)
		}
	}
	return append(out, pub...)
}

// portMap is the DNAT map of p: by its family, and whether it is
// published on every address, a loopback address or one other address.
func portMap(p firewall.Port) string {
	every := !p.HostIP.IsValid() || p.HostIP.IsUnspecified()
	switch {
	case p.Is6() && every:
		return MapPorts6
	case p.Is6():
		return MapAddrPorts6
	case every:
		return MapPorts
	case p.HostIP.IsLoopback():
		return MapLoopPorts
	}
	return MapAddrPorts
}

// portKey is p's key in its map, ps being its protocol and port.
func portKey(p firewall.Port, ps string) string {
	if !p.HostIP.IsValid() || p.HostIP.IsUnspecified() {
		return ps
	}
	return string(p.HostIP.AsSlice()) + ps
}

// setElement is e as google/nftables writes it.
func (e elem) setElement() nft.SetElement {
	se := nft.SetElement{Key: []byte(e.key), Comment: e.comment}
	switch {
	case (e.set == SetNATSubnets && len(e.key) == 40) || (e.set == SetNATSubnets6 && len(e.key) == 64):
		se.Key, se.KeyEnd = []byte(e.key[:len(e.key)/2]), []byte(e.key[len(e.key)/2:])
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
	case SetNATSubnets, SetNATSubnets6:
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
	case SetNATSubnets, SetNATSubnets6:
		if n := len(k) / 2; n == 20 || n == 32 {
			first, _ := netip.AddrFromSlice(k[16:n])
			last, _ := netip.AddrFromSlice(k[n+16:])
			return fmt.Sprintf("%q . %s-%s", ifnameOf(k[:16]), first, last)
		}
	case SetIsolated, SetProtected, SetRouted:
		if len(k) == 20 {
			return fmt.Sprintf("%q . %s", ifnameOf(k[:16]), map[byte]string{unix.NFPROTO_IPV4: "ipv4", unix.NFPROTO_IPV6: "ipv6"}[k[16]])
		}
	case MapPorts, MapPorts6:
		return protoPort(k)
	case MapAddrPorts, MapLoopPorts, SetPublished, MapAddrPorts6, SetPublished6:
		if n := len(k) - 8; n == 4 || n == 16 {
			a, _ := netip.AddrFromSlice(k[:n])
			return a.String() + " . " + protoPort(k[n:])
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
	case MapPorts, MapAddrPorts, MapLoopPorts, MapPorts6, MapAddrPorts6:
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

// addrPort is "ADDR . PORT" of a map's data: an IPv4 (8 bytes) or IPv6
// (20 bytes) address and a port.
func addrPort(b []byte) string {
	n := len(b) - 4
	if n != 4 && n != 16 {
		return "?"
	}
	a, _ := netip.AddrFromSlice(b[:n])
	return fmt.Sprintf("%s . %d", a, int(b[n])<<8|int(b[n+1]))
}

// elemCmd is the nft command that adds (verb "add") or deletes e.
func elemCmd(verb string, e elem) string {
	t := e.text()
	if verb == "delete" {
		t = e.keyText()
	}
	return fmt.Sprintf("%s element inet %s %s { %s }", verb, NetTable, e.set, t)
}
