package nftables

import (
	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// IPv6 and the gateway modes in NetTable. The table is of family inet, so
// every rule already sees both families; what is per family is told by
// `meta nfproto` (nft's own dependency before an ip or ip6 match) or by a
// set keyed "BR" . FAMILY:
//
//   - masquerade: masquerade_bridges (IPv4) and masquerade6_bridges
//     (NAT66), by firewall.Network's Masq4 and Masq6;
//   - hairpin: nat_subnets and nat_subnets6;
//   - published ports: ports6 and addr_ports6 (no loopback map: IPv6 has
//     no route_localnet, so a port on [::1] is served by the daemon's
//     proxy, and the output chain leaves ::1 alone);
//   - gateway modes, per family: isolated_families ("BR" . ipv6: nothing
//     of IPv6 in or out of BR; also the family a network has no subnet
//     of), protected_families (from outside only published ports come in:
//     mode routed, and mode nat for IPv6; mode nat for IPv4 lets in what
//     is routed to a container, as before), routed_families (the
//     container side of published ports, in published and published6,
//     and ICMP come in directly).
var (
	addr6Service  = nft.MustConcatSetType(nft.TypeIP6Addr, nft.TypeInetService)
	addr6ProtoSvc = nft.MustConcatSetType(nft.TypeIP6Addr, nft.TypeInetProto, nft.TypeInetService)
	ifnameAddr6   = nft.MustConcatSetType(nft.TypeIFName, nft.TypeIP6Addr)
	ifnameFamily  = nft.MustConcatSetType(nft.TypeIFName, nft.TypeNFProto)
)

// netSet6 fills in the definition of the IPv6 and per-family sets.
func netSet6(s *nft.Set) {
	switch s.Name {
	case SetNATSubnets6:
		s.KeyType, s.Concatenation, s.Interval, s.KeyByteOrder = ifnameAddr6, true, true, nil
	case MapPorts6:
		s.KeyType, s.DataType, s.IsMap, s.Concatenation, s.KeyByteOrder = protoService, addr6Service, true, true, nil
	case MapAddrPorts6:
		s.KeyType, s.DataType, s.IsMap, s.Concatenation, s.KeyByteOrder = addr6ProtoSvc, addr6Service, true, true, nil
	case SetIsolated, SetProtected, SetRouted:
		s.KeyType, s.Concatenation, s.KeyByteOrder = ifnameFamily, true, nil
	case SetPublished:
		s.KeyType, s.Concatenation, s.KeyByteOrder = addrProtoSvc, true, nil
	case SetPublished6:
		s.KeyType, s.Concatenation, s.KeyByteOrder = addr6ProtoSvc, true, nil
	}
}

// family is what an IPv4 or IPv6 match needs: its nfproto, where the
// addresses are in the network header, and how long they are.
type family struct {
	proto            byte
	saddr, daddr, ln uint32
}

var (
	fam4 = family{unix.NFPROTO_IPV4, 12, 16, 4}
	fam6 = family{unix.NFPROTO_IPV6, 8, 24, 16}
)

// is is `meta nfproto ipv4` (or ipv6).
func (f family) is() []expr.Any {
	return []expr.Any{meta(expr.MetaKeyNFPROTO, reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{f.proto}}}
}

// ipv6 is `meta nfproto ipv6`, what nft puts before an IPv6 match in an
// inet table.
func ipv6() []expr.Any { return fam6.is() }

// regAt is the register nft uses for the bytes at offset off of a
// concatenation: a 16-byte register when aligned, else a 32-bit one.
func regAt(off uint32) uint32 {
	if off%16 == 0 {
		return reg1 + off/16
	}
	return 8 + off/4
}

// ifFamilyIn is `oifname . meta nfproto @set` (or iifname).
func ifFamilyIn(key expr.MetaKey, set string) []expr.Any {
	return []expr.Any{meta(key, reg1), meta(expr.MetaKeyNFPROTO, regAt(16)), lookup(set, false)}
}

// l4Is is `meta l4proto P`.
func l4Is(p byte) []expr.Any {
	return []expr.Any{meta(expr.MetaKeyL4PROTO, reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{p}}}
}

// dstPortIn is `ip daddr . meta l4proto . th dport @set` (ip6 for fam6),
// after the family's nfproto.
func (f family) dstPortIn(set string) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: f.daddr, Len: f.ln},
		meta(expr.MetaKeyL4PROTO, regAt(pad4(f.ln))),
		&expr.Payload{DestRegister: regAt(pad4(f.ln) + 4), Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		lookup(set, false),
	}
}

func pad4(n uint32) uint32 { return (n + 3) &^ 3 }

// dnatVia6 is `dnat ip6 to [ip6 daddr .] meta l4proto . th dport map @m`.
func dnatVia6(m string, withAddr bool) []expr.Any {
	var out []expr.Any
	off := uint32(0)
	if withAddr {
		out = append(out, &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: fam6.daddr, Len: 16})
		off = 16
	}
	return append(out,
		meta(expr.MetaKeyL4PROTO, regAt(off)),
		&expr.Payload{DestRegister: regAt(off + 4), Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: reg1, DestRegister: reg1, IsDestRegSet: true, SetName: m},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV6, RegAddrMin: reg1, RegAddrMax: reg1,
			RegProtoMin: regAt(16), RegProtoMax: regAt(16), Specified: true},
	)
}

// notLoopback6 is `ip6 daddr != ::1`, after ipv6.
func notLoopback6() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: fam6.daddr, Len: 16},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: append(make([]byte, 15), 1)},
	}
}

// oifSaddr6In is `oifname . ip6 saddr @set`, after ipv6.
func oifSaddr6In(set string) []expr.Any {
	return []expr.Any{meta(oif, reg1),
		&expr.Payload{DestRegister: reg2, Base: expr.PayloadBaseNetworkHeader, Offset: fam6.saddr, Len: 16}, lookup(set, false)}
}

// The rules of the gateway modes in chain forward, in order: after the
// internal networks' drops (isolated ones) and after the published ports'
// accept (the others).
var (
	ruleIsolatedIn = netRule{`oifname . meta nfproto @isolated_families counter drop`, "plumb: isolated gateway mode: nothing of the family comes in",
		func() []expr.Any {
			return join(ifFamilyIn(oif, SetIsolated), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
		}}
	ruleIsolatedOut = netRule{`iifname . meta nfproto @isolated_families counter drop`, "plumb: isolated gateway mode: nothing of the family goes out",
		func() []expr.Any {
			return join(ifFamilyIn(iif, SetIsolated), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
		}}
	ruleRoutedICMP = netRule{`meta l4proto icmp oifname . meta nfproto @routed_families accept`, "plumb: routed gateway mode: ICMP comes in",
		func() []expr.Any {
			return join(l4Is(unix.IPPROTO_ICMP), ifFamilyIn(oif, SetRouted), tail(verdict(expr.VerdictAccept)))
		}}
	ruleRoutedICMP6 = netRule{`meta l4proto ipv6-icmp oifname . meta nfproto @routed_families accept`, "plumb: routed gateway mode: ICMPv6 comes in",
		func() []expr.Any {
			return join(l4Is(unix.IPPROTO_ICMPV6), ifFamilyIn(oif, SetRouted), tail(verdict(expr.VerdictAccept)))
		}}
	ruleRouted4 = netRule{`oifname . meta nfproto @routed_families ip daddr . meta l4proto . th dport @published accept`,
		"plumb: routed gateway mode: published ports reached directly",
		func() []expr.Any {
			return join(ifFamilyIn(oif, SetRouted), fam4.is(), fam4.dstPortIn(SetPublished), tail(verdict(expr.VerdictAccept)))
		}}
	ruleRouted6 = netRule{`oifname . meta nfproto @routed_families ip6 daddr . meta l4proto . th dport @published6 accept`,
		"plumb: routed gateway mode: published ports reached directly (IPv6)",
		func() []expr.Any {
			return join(ifFamilyIn(oif, SetRouted), fam6.is(), fam6.dstPortIn(SetPublished6), tail(verdict(expr.VerdictAccept)))
		}}
	ruleProtected = netRule{`oifname . meta nfproto @protected_families counter drop`, "plumb: gateway mode: from outside only published ports come in",
		func() []expr.Any {
			return join(ifFamilyIn(oif, SetProtected), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
		}}
)

// The IPv6 rules of chains prerouting, output and postrouting.
var (
	rulePreAddr6 = netRule{`fib daddr type local dnat ip6 to ip6 daddr . meta l4proto . th dport map @addr_ports6`, "plumb: ports published on one address (IPv6)",
		func() []expr.Any { return join(ipv6(), fibLocal(), dnatVia6(MapAddrPorts6, true)) }}
	rulePrePorts6 = netRule{`meta nfproto ipv6 fib daddr type local dnat ip6 to meta l4proto . th dport map @ports6`, "plumb: published ports (IPv6)",
		func() []expr.Any { return join(ipv6(), fibLocal(), dnatVia6(MapPorts6, false)) }}
	// ::1 is left to the daemon's proxy: a packet from ::1 cannot be
	// routed to a bridge (IPv6 has no route_localnet).
	ruleOutPorts6 = netRule{`fib daddr type local ip6 daddr != ::1 dnat ip6 to meta l4proto . th dport map @ports6`, "plumb: published ports (IPv6)",
		func() []expr.Any { return join(ipv6(), fibLocal(), notLoopback6(), dnatVia6(MapPorts6, false)) }}
	ruleMasq6 = netRule{`meta nfproto ipv6 iifname @masquerade6_bridges oifname != @bridges masquerade`, "plumb: containers going out (IPv6, NAT66)",
		func() []expr.Any {
			return join(ipv6(), ifIn(iif, SetMasq6, false), ifIn(oif, SetBridges, true), tail(&expr.Masq{}))
		}}
	ruleHairpin6 = netRule{`oifname . ip6 saddr @nat_subnets6 ct status dnat masquerade`, "plumb: hairpin to published ports (IPv6)",
		func() []expr.Any {
			return join(ipv6(), oifSaddr6In(SetNATSubnets6), ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq), tail(&expr.Masq{}))
		}}
)
