package nftables

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	nft "github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/firewall"
)

// Coexistence with iptables. A drop in any base chain is final: when the
// filter table of iptables (iptables-nft: `table ip filter`) has policy
// DROP on FORWARD, as Docker sets it, plumb's forwarded traffic dies
// there whatever NetTable accepts. So, while that policy is DROP, every
// plumb network gets two ACCEPT rules of its own there, in DOCKER-USER
// when it exists (Docker's place for a user's rules, which it never
// flushes), else at the top of FORWARD, as iptables-nft itself writes
// them (so that `iptables-save` shows them):
//
//	-A DOCKER-USER -i BR -m comment --comment plumb:NAME -j ACCEPT
//	-A DOCKER-USER -o BR -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment plumb:NAME -j ACCEPT
//
// They let through only what NetTable lets through already: its drops
// (isolation, internal, icc=false) stay final. They go with their network.
// A filter table of iptables-legacy is out of netlink's reach: there
// plumb can neither see the policy nor help (use the iptables backend).
// IPv6 has a FORWARD policy of its own (ip6tables', `table ip6 filter`),
// which Docker 27+ sets to DROP as well: a network with an IPv6 subnet
// gets the same two rules there, written as ip6tables-nft writes them; a
// network gets iptables' rules only when it has an IPv4 subnet.
const (
	filterTable  = "filter"
	forwardChain = "FORWARD"
	userChain    = "DOCKER-USER"
)

// foreignState is what plumb reads of iptables' filter table (of
// ip6tables' with v6: IPv6 has its own FORWARD policy, which Docker 27+
// sets to DROP too; plumb's IPv6 networks get the same two rules there).
type foreignState struct {
	v6         bool // ip6tables' (table ip6 filter)
	filter     bool // table ip filter exists
	policyDrop bool // its FORWARD chain has policy drop
	userChain  bool // chain DOCKER-USER exists
	rules      []foreignRule
}

// foreignRule is one of plumb's rules in FORWARD or DOCKER-USER.
type foreignRule struct {
	v6      bool // in table ip6 filter
	chain   string
	handle  uint64
	network string
	exprs   []expr.Any
}

func filterTbl(v6 bool) *nft.Table {
	if v6 {
		return &nft.Table{Name: filterTable, Family: nft.TableFamilyIPv6}
	}
	return &nft.Table{Name: filterTable, Family: nft.TableFamilyIPv4}
}

// iptName is the command that owns the filter table: "iptables" or
// "ip6tables".
func iptName(v6 bool) string {
	if v6 {
		return "ip6tables"
	}
	return "iptables"
}

// readForeign reads the filter table's FORWARD policy and plumb's rules
// in FORWARD and DOCKER-USER. Equivalent to: `iptables -S FORWARD;
// iptables -S DOCKER-USER` (ip6tables with v6).
func readForeign(c *nft.Conn, v6 bool) (foreignState, error) {
	fs := foreignState{v6: v6}
	chains, err := c.ListChainsOfTableFamily(filterTbl(v6).Family)
	if err != nil {
		return fs, fmt.Errorf("listing the chains of the %s tables: %w", iptName(v6), err)
	}
	for _, ch := range chains {
		if ch.Table.Name != filterTable || (ch.Name != forwardChain && ch.Name != userChain) {
			continue
		}
		fs.filter = true
		if ch.Name == forwardChain {
			fs.policyDrop = ch.Policy != nil && *ch.Policy == nft.ChainPolicyDrop
		} else {
			fs.userChain = true
		}
		rules, err := c.GetRules(filterTbl(v6), ch)
		if err != nil {
			return fs, fmt.Errorf("listing chain %s of %s' filter table: %w", ch.Name, iptName(v6), err)
		}
		for _, r := range rules {
			if name, ok := strings.CutPrefix(foreignComment(r.Exprs, r.UserData), "plumb:"); ok {
				fs.rules = append(fs.rules, foreignRule{v6: v6, chain: ch.Name, handle: r.Handle, network: name, exprs: r.Exprs})
			}
		}
	}
	return fs, nil
}

// target is the chain plumb's accept rules go in.
func (fs foreignState) target() string {
	if fs.userChain {
		return userChain
	}
	return forwardChain
}

// foreignRules are the accept rules of network n, as expressions (what
// iptables-nft 1.8.9 itself writes for them: native interface matches, xt
// conntrack and comment matches, a counter) and as iptables text: for
// ip6tables with v6 (the conntrack match's addresses are then 16 bytes).
// None for a family n has no subnet of.
func foreignRules(n firewall.Network, v6 bool) (exprs [][]expr.Any, text []string) {
	if (v6 && !n.Subnet6.IsValid()) || (!v6 && !n.Subnet.IsValid()) {
		return nil, nil
	}
	alen := 4
	if v6 {
		alen = 16
	}
	c := xt.Comment(netComment(n.Name))
	iface := func(key expr.MetaKey) []expr.Any {
		return []expr.Any{meta(key, reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: append([]byte(n.Bridge), 0)}}
	}
	accept := []expr.Any{&expr.Match{Name: "comment", Info: &c}, &expr.Counter{}, verdict(expr.VerdictAccept)}
	zero4 := func() []byte { return make([]byte, alen) }
	ct := &expr.Match{Name: "conntrack", Rev: 3, Info: &xt.ConntrackMtinfo3{ConntrackMtinfo2: xt.ConntrackMtinfo2{
		ConntrackMtinfoBase: xt.ConntrackMtinfoBase{
			OrigSrcAddr: zero4(), OrigSrcMask: zero4(), OrigDstAddr: zero4(), OrigDstMask: zero4(),
			ReplSrcAddr: zero4(), ReplSrcMask: zero4(), ReplDstAddr: zero4(), ReplDstMask: zero4(),
			MatchFlags: uint16(xt.ConntrackState)},
		StateMask: ctEstablished | ctRelated | ctDNAT}}}
	return [][]expr.Any{join(iface(expr.MetaKeyIIFNAME), accept), join(iface(expr.MetaKeyOIFNAME), tail(ct), accept)}, []string{
		fmt.Sprintf("-i %s -m comment --comment %s -j ACCEPT", n.Bridge, c),
		fmt.Sprintf("-o %s -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -m comment --comment %s -j ACCEPT", n.Bridge, c),
	}
}

// foreignComment is a rule's comment: an xt comment match's (what iptables
// writes) or its user data's (what nft writes).
func foreignComment(exprs []expr.Any, ud []byte) string {
	for _, e := range exprs {
		if m, ok := e.(*expr.Match); ok && m.Name == "comment" {
			if c, ok := m.Info.(*xt.Comment); ok {
				return string(*c)
			}
		}
	}
	c, _ := userdata.GetString(ud, userdata.TypeComment)
	return c
}

// xt_conntrack's state bits (XT_CONNTRACK_STATE_BIT and friends).
const (
	ctEstablished = 1 << (1 + 0)
	ctRelated     = 1 << (1 + 1)
	ctDNAT        = 1 << (5 + 2)
)

// hasForeign reports whether fs holds rule exprs of network name (in
// FORWARD or DOCKER-USER).
func (fs foreignState) hasForeign(name string, exprs []expr.Any) bool {
	return slices.ContainsFunc(fs.rules, func(r foreignRule) bool {
		return r.network == name && sameForeign(r.exprs, exprs)
	})
}

func sameForeign(a, b []expr.Any) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

// foreignProblems lists what coexistence lacks for n in fs.
func (fs foreignState) foreignProblems(n firewall.Network) []string {
	if !fs.policyDrop {
		return nil
	}
	var out []string
	exprs, text := foreignRules(n, fs.v6)
	for i, e := range exprs {
		if !fs.hasForeign(n.Name, e) {
			out = append(out, fmt.Sprintf("%s' filter FORWARD policy is DROP and plumb's accept rule is missing (%s -I %s %s)", iptName(fs.v6), iptName(fs.v6), fs.target(), text[i]))
		}
	}
	return out
}

// isNotExist reports whether err is the kernel's "no such file or
// directory" (a table, chain or set missing).
func isNotExist(err error) bool { return errors.Is(err, unix.ENOENT) }
