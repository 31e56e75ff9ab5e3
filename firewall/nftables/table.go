package nftables

import (
	"strings"

	nft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The objects of plumb's table that the localnet guard owns. Each function
// returns a fresh value: google/nftables gives a set its batch id when it
// is added.
const (
	// TableName is plumb's table, family inet: `table inet plumb`.
	TableName = "plumb"
	// SetName is the set of guarded bridges: `set localnet_bridges { type
	// ifname; }`.
	SetName = "localnet_bridges"
	// ChainName is the guard's base chain: `chain localnet_guard { type
	// filter hook input priority filter; policy accept; }`.
	ChainName = "localnet_guard"
)

// ipsDstNAT is IPS_DST_NAT, the conntrack status bit of a connection whose
// destination was rewritten (nf_conntrack_common.h, IPS_DST_NAT_BIT 5):
// `ct status dnat`, iptables' `--ctstate DNAT`.
const ipsDstNAT = 1 << 5

func plumbTable() *nft.Table { return &nft.Table{Name: TableName, Family: nft.TableFamilyINet} }

// guardSet holds interface names, a string type that nft keeps in host
// byte order: without that byte order in the set's user data, `nft list`
// prints every element as "".
func guardSet() *nft.Set {
	return &nft.Set{Table: plumbTable(), Name: SetName, KeyType: nft.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
}

// guardChain is at the input hook: the guard sees only what routing
// delivers to the host, after prerouting's DNAT, so that a container's
// connection to a published port on 127.0.0.1 (DNATed away from the
// loopback) is not its business. A drop in any base chain is final, so its
// priority does not decide whether another table's accept lets through
// what it drops; filter (0) is the usual place.
func guardChain() *nft.Chain {
	return &nft.Chain{
		Name:     ChainName,
		Table:    plumbTable(),
		Type:     nft.ChainTypeFilter,
		Hooknum:  nft.ChainHookInput,
		Priority: nft.ChainPriorityFilter,
		Policy:   policyRef(nft.ChainPolicyAccept),
	}
}

func policyRef(p nft.ChainPolicy) *nft.ChainPolicy { return &p }

// guardRule is one rule of the guard's chain, as data: after
// fromBridgeToLoopback, its conntrack matches, then `counter drop`. Both
// its netlink expressions (guardRules) and its nft text (text) are made
// from it.
type guardRule []ctMatch

// ctMatch is `ct KEY NAMES` (one of bits set) or, with none, `ct KEY !
// NAMES` (none of them set).
type ctMatch struct {
	key  expr.CtKey
	bits uint32
	none bool
}

// guardRuleDefs are the rules of the guard's chain, as `nft` prints them:
//
//	iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state invalid,untracked counter drop
//	iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state new ct status ! dnat counter drop
//
// Together they are kube-proxy's `-d 127.0.0.0/8 ! --ctstate
// RELATED,ESTABLISHED,DNAT -j DROP` for the guarded bridges: a packet the
// host did not DNAT and that is not part of a connection already let
// through. Two rules, because `ct status` matches nothing on a packet
// conntrack could not place (the expression breaks), and such a packet
// must be dropped too.
var guardRuleDefs = []guardRule{
	{{key: expr.CtKeySTATE, bits: expr.CtStateBitINVALID | expr.CtStateBitUNTRACKED}},
	{{key: expr.CtKeySTATE, bits: expr.CtStateBitNEW}, {key: expr.CtKeySTATUS, bits: ipsDstNAT, none: true}},
}

// guardRules are guardRuleDefs as netlink expressions. setID is the set's
// id in the batch that adds the rules, 0 when comparing with what the
// kernel lists.
func guardRules(setID uint32) [][]expr.Any {
	var rules [][]expr.Any
	for _, r := range guardRuleDefs {
		exprs := fromBridgeToLoopback(setID)
		for _, m := range r {
			op := expr.CmpOpNeq
			if m.none {
				op = expr.CmpOpEq
			}
			exprs = append(exprs, ctBits(m.key, m.bits, op)...)
		}
		rules = append(rules, append(exprs, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}))
	}
	return rules
}

// text is r as nft reads it.
func (r guardRule) text() string {
	parts := []string{fromBridgeToLoopbackText}
	for _, m := range r {
		parts = append(parts, m.text())
	}
	return strings.Join(append(parts, "counter drop"), " ")
}

// ctBitNames name the bits of `ct state` and `ct status` plumb matches, in
// the order nft lists them.
var ctBitNames = map[expr.CtKey][]struct {
	bit  uint32
	name string
}{
	expr.CtKeySTATE: {{expr.CtStateBitINVALID, "invalid"}, {expr.CtStateBitESTABLISHED, "established"},
		{expr.CtStateBitRELATED, "related"}, {expr.CtStateBitNEW, "new"}, {expr.CtStateBitUNTRACKED, "untracked"}},
	expr.CtKeySTATUS: {{ipsDstNAT, "dnat"}},
}

func (m ctMatch) text() string {
	key := map[expr.CtKey]string{expr.CtKeySTATE: "state", expr.CtKeySTATUS: "status"}[m.key]
	var names []string
	for _, b := range ctBitNames[m.key] {
		if m.bits&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	neg := ""
	if m.none {
		neg = "! "
	}
	return "ct " + key + " " + neg + strings.Join(names, ",")
}

// ruleComment is the comment of the guard's rules, for the reader of `nft
// list ruleset`.
const ruleComment = "plumb: containers may not reach the host's loopback"

func ruleUserData() []byte { return userdata.AppendString(nil, userdata.TypeComment, ruleComment) }

// fromBridgeToLoopbackText is fromBridgeToLoopback as nft reads it.
const fromBridgeToLoopbackText = "iifname @" + SetName + " ip daddr 127.0.0.0/8"

// fromBridgeToLoopback matches `iifname @localnet_bridges ip daddr
// 127.0.0.0/8` (`meta nfproto ipv4` first, as nft adds it in an inet
// table).
func fromBridgeToLoopback(setID uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: SetName, SetID: setID},
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127, 0, 0, 0}},
	}
}

// ctBits loads conntrack key and compares its bits under mask with zero:
// CmpOpNeq matches when one of them is set, CmpOpEq when none is. The
// kernel keeps ct state and status in host byte order.
func ctBits(key expr.CtKey, mask uint32, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// ifnameKey is bridge as a set element of type ifname: the name padded
// with NULs to IFNAMSIZ (16) bytes, as `meta iifname` loads it.
func ifnameKey(bridge string) []byte {
	k := make([]byte, unix.IFNAMSIZ)
	copy(k, bridge)
	return k
}

// ifnameOf is the inverse of ifnameKey.
func ifnameOf(key []byte) string {
	for i, c := range key {
		if c == 0 {
			return string(key[:i])
		}
	}
	return string(key)
}
