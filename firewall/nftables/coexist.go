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
const (
	filterTable  = "filter"
	forwardChain = "FORWARD"
	userChain    = "DOCKER-USER"
)

// foreignState is what plumb reads of iptables' filter table.
type foreignState struct {
	filter     bool // table ip filter exists
	policyDrop bool // its FORWARD chain has policy drop
	userChain  bool // chain DOCKER-USER exists
	rules      []foreignRule
}

// foreignRule is one of plumb's rules in FORWARD or DOCKER-USER.
type foreignRule struct {
	chain   string
	handle  uint64
	network string
	exprs   []expr.Any
}

func filterTbl() *nft.Table { return &nft.Table{Name: filterTable, Family: nft.TableFamilyIPv4} }

// readForeign reads the filter table's FORWARD policy and plumb's rules
// in FORWARD and DOCKER-USER. Equivalent to: `iptables -S FORWARD;
// iptables -S DOCKER-USER`.
func readForeign(c *nft.Conn) (foreignState, error) {
	var fs foreignState
	chains, err := c.ListChainsOfTableFamily(nft.TableFamilyIPv4)
	if err != nil {
		return fs, fmt.Errorf("listing the chains of the ip tables: %w", err)
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
		rules, err := c.GetRules(filterTbl(), ch)
		if err != nil {
			return fs, fmt.Errorf("listing chain %s of table ip filter: %w", ch.Name, err)
		}
		for _, r := range rules {
			if name, ok := strings.CutPrefix(foreignComment(r.Exprs, r.UserData), "plumb:"); ok {
				fs.rules = append(fs.rules, foreignRule{chain: ch.Name, handle: r.Handle, network: name, exprs: r.Exprs})
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
// conntrack and comment matches, a counter) and as iptables text.
func foreignRules(n firewall.Network) (exprs [][]expr.Any, text []string) {
	c := xt.Comment(netComment(n.Name))
	iface := func(key expr.MetaKey) []expr.Any {
		return []expr.Any{meta(key, reg1), &expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: append([]byte(n.Bridge), 0)}}
	}
	accept := []expr.Any{&expr.Match{Name: "comment", Info: &c}, &expr.Counter{}, verdict(expr.VerdictAccept)}
	zero4 := func() []byte { return make([]byte, 4) }
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
	exprs, text := foreignRules(n)
	for i, e := range exprs {
		if !fs.hasForeign(n.Name, e) {
			out = append(out, fmt.Sprintf("iptables' filter FORWARD policy is DROP and plumb's accept rule is missing (iptables -I %s %s)", fs.target(), text[i]))
		}
	}
	return out
}

// isNotExist reports whether err is the kernel's "no such file or
// directory" (a table, chain or set missing).
func isNotExist(err error) bool { return errors.Is(err, unix.ENOENT) }
