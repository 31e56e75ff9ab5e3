package nftables

import (
	nft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// NetTable is the nftables backend's table, family inet, owned whole:
// `table inet plumb-networks` (the localnet guard keeps `table inet plumb`).
const NetTable = "plumb-networks"

// The sets and maps of NetTable. Every element of a bridge-keyed set
// carries the comment "plumb:NAME" of its network; every element of a
// port map "plumb:NAME/OWNER".
const (
	SetBridges    = "bridges"            // every plumb bridge: isolation, the loopback guard
	SetInternal   = "internal_bridges"   // bridges of internal networks: nothing in or out
	SetMasquerade = "masquerade_bridges" // bridges whose traffic leaving by another interface is masqueraded
	SetNAT        = "nat_bridges"        // bridges of non-internal networks: localhost masquerade
	SetNATSubnets = "nat_subnets"        // "BR" . SUBNET of non-internal networks: hairpin masquerade
	MapICC        = "icc"                // "BR" . "BR" : accept | drop, traffic within one bridge
	MapPorts      = "ports"              // l4proto . dport : addr . port, ports published on every address
	MapAddrPorts  = "addr_ports"         // daddr . l4proto . dport : addr . port, on one address of the host
	MapLoopPorts  = "loopback_ports"     // daddr . l4proto . dport : addr . port, on a loopback address (host only)

	// IPv6 (netdefs6.go). There is no loopback_ports6: IPv6 has no
	// route_localnet, so a port published on [::1] is the daemon's
	// userland proxy's, never an element.
	SetMasq6       = "masquerade6_bridges" // bridges whose IPv6 traffic leaving by another interface is masqueraded (NAT66)
	SetNATSubnets6 = "nat_subnets6"        // "BR" . SUBNET6: IPv6 hairpin masquerade
	MapPorts6      = "ports6"              // l4proto . dport : addr6 . port, ports published on every IPv6 address
	MapAddrPorts6  = "addr_ports6"         // daddr6 . l4proto . dport : addr6 . port, on one IPv6 address of the host

	// Per family (netdefs6.go): "BR" . FAMILY (ipv4 or ipv6), by the
	// network's gateway mode for that family.
	SetIsolated  = "isolated_families"  // no traffic of FAMILY in or out of BR: mode isolated, or BR has no subnet of FAMILY
	SetProtected = "protected_families" // from outside only published ports come in: mode routed; nat for IPv6
	SetRouted    = "routed_families"    // mode routed: published container ports (and ICMP) reached directly

	// The container side of every published port not bound to a loopback
	// address (addr . l4proto . port), what mode routed lets in directly.
	SetPublished  = "published"
	SetPublished6 = "published6"
)

// The base chains of NetTable.
const (
	ChainFwd   = "forward"     // filter hook forward priority filter
	ChainInput = "input"       // filter hook input priority filter (the loopback guard)
	ChainPre   = "prerouting"  // nat hook prerouting priority dstnat
	ChainOut   = "output"      // nat hook output priority -100 (dstnat)
	ChainPost  = "postrouting" // nat hook postrouting priority srcnat
)

// netSetNames lists NetTable's sets in creation order.
var netSetNames = []string{SetBridges, SetInternal, SetMasquerade, SetNAT, SetNATSubnets, MapICC, MapPorts, MapAddrPorts, MapLoopPorts,
	SetMasq6, SetNATSubnets6, SetIsolated, SetProtected, SetRouted, MapPorts6, MapAddrPorts6, SetPublished, SetPublished6}

// netChainNames lists NetTable's chains in creation order.
var netChainNames = []string{ChainFwd, ChainInput, ChainPre, ChainOut, ChainPost}

// portMaps are the maps (and sets) holding published ports.
var portMaps = []string{MapPorts, MapAddrPorts, MapLoopPorts, MapPorts6, MapAddrPorts6, SetPublished, SetPublished6}

func netTable() *nft.Table { return &nft.Table{Name: NetTable, Family: nft.TableFamilyINet} }

var (
	protoService = nft.MustConcatSetType(nft.TypeInetProto, nft.TypeInetService)
	addrProtoSvc = nft.MustConcatSetType(nft.TypeIPAddr, nft.TypeInetProto, nft.TypeInetService)
	addrService  = nft.MustConcatSetType(nft.TypeIPAddr, nft.TypeInetService)
	ifnamePair   = nft.MustConcatSetType(nft.TypeIFName, nft.TypeIFName)
	ifnameAddr   = nft.MustConcatSetType(nft.TypeIFName, nft.TypeIPAddr)
)

// netSet returns a fresh definition of the set or map called name.
func netSet(name string) *nft.Set {
	s := &nft.Set{Table: netTable(), Name: name, KeyType: nft.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	switch name {
	case MapICC:
		s.KeyType, s.DataType, s.IsMap, s.Concatenation = ifnamePair, nft.TypeVerdict, true, true
	case SetNATSubnets:
		s.KeyType, s.Concatenation, s.Interval, s.KeyByteOrder = ifnameAddr, true, true, nil
	case MapPorts:
		s.KeyType, s.DataType, s.IsMap, s.Concatenation, s.KeyByteOrder = protoService, addrService, true, true, nil
	case MapAddrPorts, MapLoopPorts:
		s.KeyType, s.DataType, s.IsMap, s.Concatenation, s.KeyByteOrder = addrProtoSvc, addrService, true, true, nil
	default:
		netSet6(s)
	}
	return s
}

// setDecl is set name's declaration as nft reads it.
func setDecl(name string) string {
	s := netSet(name)
	switch {
	case s.IsMap:
		return "type " + s.KeyType.Name + " : " + s.DataType.Name + ";"
	case s.Interval:
		return "type " + s.KeyType.Name + "; flags interval;"
	}
	return "type " + s.KeyType.Name + ";"
}

// netChain returns a fresh definition of the base chain called name.
func netChain(name string) *nft.Chain {
	c := &nft.Chain{Name: name, Table: netTable(), Type: nft.ChainTypeFilter, Priority: nft.ChainPriorityFilter,
		Policy: policyRef(nft.ChainPolicyAccept)}
	switch name {
	case ChainFwd:
		c.Hooknum = nft.ChainHookForward
	case ChainInput:
		c.Hooknum = nft.ChainHookInput
	case ChainPre:
		c.Type, c.Hooknum, c.Priority = nft.ChainTypeNAT, nft.ChainHookPrerouting, nft.ChainPriorityNATDest
	case ChainOut:
		c.Type, c.Hooknum, c.Priority = nft.ChainTypeNAT, nft.ChainHookOutput, nft.ChainPriorityNATDest
	case ChainPost:
		c.Type, c.Hooknum, c.Priority = nft.ChainTypeNAT, nft.ChainHookPostrouting, nft.ChainPriorityNATSource
	}
	return c
}

// netRule is one rule of NetTable's chains, as data: its nft text and its
// netlink expressions are made from the same definition.
type netRule struct {
	text    string
	comment string
	exprs   func() []expr.Any
}

// Registers, as the kernel dumps them: a 16-byte register when aligned
// (1, 2), a 32-bit one otherwise (9, 10: the second and third word of
// register 1).
const (
	reg1   = 1
	reg2   = 2
	reg32b = 9
	reg32c = 10
)

func meta(key expr.MetaKey, reg uint32) *expr.Meta { return &expr.Meta{Key: key, Register: reg} }

func lookup(set string, invert bool) *expr.Lookup {
	return &expr.Lookup{SourceRegister: reg1, SetName: set, Invert: invert}
}

func verdict(k expr.VerdictKind) *expr.Verdict { return &expr.Verdict{Kind: k} }

// ipv4 is `meta nfproto ipv4`, what nft puts before an IPv4 match in an
// inet table.
func ipv4() []expr.Any {
	return []expr.Any{meta(expr.MetaKeyNFPROTO, reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{unix.NFPROTO_IPV4}}}
}

// ifIn is `iifname @set` (or oifname), negated with invert.
func ifIn(key expr.MetaKey, set string, invert bool) []expr.Any {
	return []expr.Any{meta(key, reg1), lookup(set, invert)}
}

// ctState is `ct state BITS` (any of them).
func ctState(bits uint32) []expr.Any { return ctBits(expr.CtKeySTATE, bits, expr.CmpOpNeq) }

// dstLoopback is `ip daddr 127.0.0.0/8`, after ipv4.
func dstLoopback() []expr.Any { return loopbackNet(16) }

// oifSaddrIn is `oifname . ip saddr @set`, after ipv4.
func oifSaddrIn(set string) []expr.Any {
	return []expr.Any{meta(oif, reg1),
		&expr.Payload{DestRegister: reg2, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}, lookup(set, false)}
}

// srcLoopback is `ip saddr 127.0.0.0/8`, after ipv4.
func srcLoopback() []expr.Any { return loopbackNet(12) }

func loopbackNet(offset uint32) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{127, 0, 0, 0}},
	}
}

// fibLocal is `fib daddr type local`: the destination is an address of
// the host (iptables' `-m addrtype --dst-type LOCAL`).
func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: reg1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// dnatVia is `dnat ip to [ip daddr .] meta l4proto . th dport map @m`.
func dnatVia(m string, withAddr bool) []expr.Any {
	var out []expr.Any
	protoReg, portReg := uint32(reg1), uint32(reg32b)
	if withAddr {
		out = append(out, &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4})
		protoReg, portReg = reg32b, reg32c
	}
	return append(out,
		meta(expr.MetaKeyL4PROTO, protoReg),
		&expr.Payload{DestRegister: portReg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: reg1, DestRegister: reg1, IsDestRegSet: true, SetName: m},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegAddrMax: reg1, RegProtoMin: reg32b, RegProtoMax: reg32b, Specified: true},
	)
}

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func tail(e ...expr.Any) []expr.Any { return e }

var (
	iif = expr.MetaKeyIIFNAME
	oif = expr.MetaKeyOIFNAME
)

// netRules are the rules of each chain, in order. They are the same for
// every network: what a network adds is elements of the sets they look
// up. Together they are the iptables backend's per-network rules (see
// firewall/iptables Rules), for bridge BR of each network:
//
//   - forward: traffic within BR by its icc verdict; traffic between two
//     plumb bridges dropped; replies to BR accepted; internal bridges
//     dropped both ways, and a family isolated on BR both ways; DNATed
//     (published) traffic to BR accepted; for a routed family, ICMP and
//     published container ports accepted; other traffic coming in to a
//     protected family of BR dropped; traffic from BR out by another
//     interface accepted. (netdefs6.go has the per-family rules.)
//   - input: the loopback guard (iptables' PLUMB-INPUT rule): a bridge
//     reaching 127.0.0.0/8 is dropped unless it is a reply or DNATed.
//   - prerouting, output: published ports, for traffic addressed to the
//     host only (`fib daddr type local`; loopback-bound ports in output
//     only; IPv6 ports never for ::1).
//   - postrouting: masquerade of traffic from a bridge leaving by another
//     interface, of 127.0.0.0/8 going out to a bridge (localhost-published
//     ports) and of hairpin traffic (DNATed back into its own bridge: its
//     source is in the subnet of the bridge it goes out to).
var netRules = map[string][]netRule{
	ChainFwd: {
		{`iifname . oifname vmap @icc`, "plumb: traffic within a network, by its icc",
			func() []expr.Any {
				return tail(meta(iif, reg1), meta(oif, reg2), &expr.Lookup{SourceRegister: reg1, IsDestRegSet: true, SetName: MapICC})
			}},
		{`iifname @bridges oifname @bridges counter drop`, "plumb: isolation between plumb networks",
			func() []expr.Any {
				return join(ifIn(iif, SetBridges, false), ifIn(oif, SetBridges, false), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
			}},
		{`oifname @bridges ct state established,related accept`, "plumb: replies",
			func() []expr.Any {
				return join(ifIn(oif, SetBridges, false), ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), tail(verdict(expr.VerdictAccept)))
			}},
		{`oifname @internal_bridges counter drop`, "plumb: internal networks: nothing comes in",
			func() []expr.Any {
				return join(ifIn(oif, SetInternal, false), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
			}},
		{`iifname @internal_bridges counter drop`, "plumb: internal networks: nothing goes out",
			func() []expr.Any {
				return join(ifIn(iif, SetInternal, false), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
			}},
		ruleIsolatedIn,
		ruleIsolatedOut,
		{`oifname @bridges ct status dnat accept`, "plumb: published ports",
			func() []expr.Any {
				return join(ifIn(oif, SetBridges, false), ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq), tail(verdict(expr.VerdictAccept)))
			}},
		ruleRoutedICMP,
		ruleRoutedICMP6,
		ruleRouted4,
		ruleRouted6,
		ruleProtected,
		{`iifname @bridges accept`, "plumb: containers may go out",
			func() []expr.Any { return join(ifIn(iif, SetBridges, false), tail(verdict(expr.VerdictAccept))) }},
	},
	ChainInput: {
		{`iifname @bridges ip daddr 127.0.0.0/8 ct state invalid,untracked counter drop`, ruleComment,
			func() []expr.Any {
				return join(ifIn(iif, SetBridges, false), ipv4(), dstLoopback(),
					ctState(expr.CtStateBitINVALID|expr.CtStateBitUNTRACKED), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
			}},
		{`iifname @bridges ip daddr 127.0.0.0/8 ct state new ct status ! dnat counter drop`, ruleComment,
			func() []expr.Any {
				return join(ifIn(iif, SetBridges, false), ipv4(), dstLoopback(), ctState(expr.CtStateBitNEW),
					ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpEq), tail(&expr.Counter{}, verdict(expr.VerdictDrop)))
			}},
	},
	ChainPre: {
		{`fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @addr_ports`, "plumb: ports published on one address",
			func() []expr.Any { return join(ipv4(), fibLocal(), dnatVia(MapAddrPorts, true)) }},
		{`meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @ports`, "plumb: published ports",
			func() []expr.Any { return join(ipv4(), fibLocal(), dnatVia(MapPorts, false)) }},
		rulePreAddr6,
		rulePrePorts6,
	},
	ChainOut: {
		{`fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @loopback_ports`, "plumb: ports published on a loopback address",
			func() []expr.Any { return join(ipv4(), fibLocal(), dnatVia(MapLoopPorts, true)) }},
		{`fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @addr_ports`, "plumb: ports published on one address",
			func() []expr.Any { return join(ipv4(), fibLocal(), dnatVia(MapAddrPorts, true)) }},
		{`meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @ports`, "plumb: published ports",
			func() []expr.Any { return join(ipv4(), fibLocal(), dnatVia(MapPorts, false)) }},
		rulePreAddr6,
		ruleOutPorts6,
	},
	ChainPost: {
		{`meta nfproto ipv4 iifname @masquerade_bridges oifname != @bridges masquerade`, "plumb: containers going out",
			func() []expr.Any {
				return join(ipv4(), ifIn(iif, SetMasquerade, false), ifIn(oif, SetBridges, true), tail(&expr.Masq{}))
			}},
		ruleMasq6,
		{`oifname @nat_bridges ip saddr 127.0.0.0/8 masquerade`, "plumb: localhost to published ports",
			func() []expr.Any { return join(ifIn(oif, SetNAT, false), ipv4(), srcLoopback(), tail(&expr.Masq{})) }},
		// Hairpin is told by the source address, as iptables' `-s SUBNET
		// -o BR`, not by iifname: under br_netfilter a packet DNATed back
		// into the bridge it came from is bridged, not routed, and
		// br_netfilter runs postrouting without an input device (iifname
		// ""), so that a container reaching its own published port was
		// answered by itself to itself and dropped its answer.
		{`oifname . ip saddr @nat_subnets ct status dnat masquerade`, "plumb: hairpin to published ports",
			func() []expr.Any {
				return join(ipv4(), oifSaddrIn(SetNATSubnets), ctBits(expr.CtKeySTATUS, ipsDstNAT, expr.CmpOpNeq), tail(&expr.Masq{}))
			}},
		ruleHairpin6,
	},
}

// userData is comment as a rule's user data.
func userData(comment string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, comment)
}
