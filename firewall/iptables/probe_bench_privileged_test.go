package iptables

import (
	"fmt"
	"testing"

	nft "github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// BenchmarkPrivilegedProbeCandidates measures what a netlink-only check of
// plumb's iptables-nft rules would cost beside iptables-save, on the
// filled namespace: it is why there is no such probe (see the package
// doc's "Watching"). Each candidate reads the rules of plumb's chains and
// of the built-in chains that jump to them, which a probe must at least
// count; GetGen reads only the ruleset's generation number.
//
//	go test -run XXX -bench ProbeCandidates -benchtime 50x ./firewall/iptables
func BenchmarkPrivilegedProbeCandidates(b *testing.B) {
	h := fillBench(b)
	if !nftMode(b) {
		b.Skip("iptables-legacy: its rules are not in nf_tables")
	}
	chains := map[string][]string{
		TableFilter: {"FORWARD", "INPUT", ChainForward, ChainIsolation1, ChainIsolation2, ChainInput},
		TableNAT:    {"PREROUTING", "OUTPUT", "POSTROUTING", ChainPrerouting, ChainOutput, ChainPostrouting},
	}
	b.Run("SaveExecOnly", func(b *testing.B) {
		measure(b, h.name, func() error { _, err := h.save.runner.save(); return err }, nil)
	})
	b.Run("GoogleNftablesGetRules", func(b *testing.B) {
		measure(b, h.name, func() error {
			c, err := nft.New(nft.AsLasting())
			if err != nil {
				return err
			}
			defer c.CloseLasting()
			for table, names := range chains {
				for _, ch := range names {
					if _, err := c.GetRules(&nft.Table{Name: table, Family: nft.TableFamilyIPv4}, &nft.Chain{Name: ch}); err != nil {
						return fmt.Errorf("listing %s %s: %w", table, ch, err)
					}
				}
			}
			return nil
		}, nil)
	})
	b.Run("RawRuleDumpCountOnly", func(b *testing.B) {
		measure(b, h.name, func() error { return dumpRuleCount(b, []string{TableFilter, TableNAT}) }, nil)
	})
	b.Run("GetGen", func(b *testing.B) {
		measure(b, h.name, func() error {
			c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Execute(netlink.Message{
				Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN), Flags: netlink.Request},
				Data:   []byte{unix.AF_UNSPEC, 0, 0, 0},
			})
			return err
		}, nil)
	})
}

// dumpRuleCount dumps the rules of the ip tables named, one NFT_MSG_GETRULE
// dump each, and decodes nothing but the netlink headers: the least a
// netlink probe that counts rules can do.
func dumpRuleCount(b *testing.B, tables []string) error {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	total := 0
	for _, t := range tables {
		data, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_RULE_TABLE, Data: []byte(t + "\x00")}})
		if err != nil {
			return err
		}
		msgs, err := c.Execute(netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
			Data:   append([]byte{unix.NFPROTO_IPV4, 0, 0, 0}, data...),
		})
		if err != nil {
			return fmt.Errorf("dumping the rules of table ip %s: %w", t, err)
		}
		total += len(msgs)
	}
	if total < benchNets*10 {
		b.Fatalf("dumped %d rules, fewer than the networks alone hold", total)
	}
	return nil
}
