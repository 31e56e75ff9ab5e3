// Package nftables holds plumb's own nftables tables, spoken over netlink
// with github.com/google/nftables: plumb never runs `nft`. `table inet
// plumb` holds the localnet guard (LocalnetGuard, see
// firewall.LocalnetGuard); `table inet plumb-networks` is the nftables
// backend of firewall.Firewall (Firewall, NewFirewall; issue 16).
//
// # The backend's table
//
// One table, owned whole, whose rules are the same for every network:
// what a network adds is elements of sets keyed by its bridge (bridges,
// internal_bridges, masquerade_bridges, nat_bridges, the verdict map
// icc, and nat_subnets: "BR" . SUBNET, an interval), each commented
// "plumb:NAME"; what a published port adds is one element of a DNAT map
// (ports: l4proto . dport; addr_ports and loopback_ports: daddr .
// l4proto . dport; each to addr . port), commented "plumb:NAME/OWNER".
// So creating a network, publishing a port or unpublishing it is a few
// elements added or deleted in one batch,
// whatever else the table holds; deleting the last network deletes the
// table.
//
// IPv6 (issue 17) lives in the same table, family inet: NAT66 by
// masquerade6_bridges, hairpin by nat_subnets6, IPv6 published ports in
// ports6 and addr_ports6 (`dnat ip6 to`, for traffic addressed to the host
// only, as for IPv4), and the gateway modes per family in sets keyed "BR"
// . FAMILY: isolated_families (mode isolated, and a family the network
// has no subnet of: nothing of it in or out), protected_families (from
// outside only published ports come in: mode routed, and mode nat for
// IPv6; IPv4 in mode nat stays as open as it always was), routed_families
// (ICMP and the container side of published ports, kept in published and
// published6, come in directly). A published port is its map's element
// and, unless bound to a loopback address, its container side's: two
// elements in the one batch, added without a read. There is no IPv6
// loopback map: IPv6 has no route_localnet, so a port on [::1] (and the
// [::1] side of a port on every address) is left to the daemon's proxy,
// and chain output never DNATs ::1. See netdefs6.go. The rules are listed in netdefs.go (netRules), with what each
// stands for in the iptables backend; coexistence with iptables' FORWARD
// policy DROP is in coexist.go.
//
// # Why nftables for the guard
//
// plumb turns route_localnet on on its bridges, and the iptables backend
// guards it with a rule in PLUMB-INPUT. `iptables -F; iptables -X` (a
// firewall reload, an admin's reset) removes that rule but leaves
// route_localnet on, and a container that routes 127.0.0.0/8 via its
// gateway then reaches the host's loopback services. A table of plumb's
// own in nftables is out of reach of any iptables command, iptables-nft
// included: iptables-nft only touches the tables of family ip named
// filter, nat, mangle, raw and security. So the guard stays while the
// iptables rules come and go, and the iptables backend's rules stay as
// they are. (`nft flush ruleset` removes it, as it removes everything;
// that is for a reconciler to notice.)
//
// # The table
//
//	table inet plumb {
//		set localnet_bridges {
//			type ifname
//			elements = { "pb-0123456789ab", ... }
//		}
//		chain localnet_guard {
//			type filter hook input priority filter; policy accept;
//			iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state invalid,untracked counter drop comment "plumb: ..."
//			iifname @localnet_bridges ip daddr 127.0.0.0/8 ct state new ct status ! dnat counter drop comment "plumb: ..."
//		}
//	}
//
// One set element per bridge: guarding or unguarding a network is one
// element added or deleted, never a rule; the element is a name, so it
// can be added before the bridge exists and outlive it. Family inet, so
// that one table serves IPv4 and (later) IPv6. The chain is at the input
// hook with policy accept: it drops only what it matches and lets
// everything else go on to the other tables' chains (Docker's, firewalld's,
// iptables-nft's), whose verdicts it does not change; theirs cannot undo
// its drop either, since a drop in any base chain is final.
//
// # Order with route_localnet
//
// EnsureLocalnetGuard(br) comes before route_localnet goes on on br, and
// DeleteLocalnetGuard(br) refuses while an interface br has it on, so
// there is no moment where a plumb bridge has route_localnet without its
// guard. The last DeleteLocalnetGuard removes the chain and the set, and
// the table when nothing else is in it: `nft list ruleset` is then what it
// was before.
//
// # Concurrency and namespaces
//
// Every write is one netlink batch, which the kernel applies atomically.
// Ensure and Delete read the table before they write (is the guard sound,
// so that one element will do? is this the last bridge?), so plumb
// processes share a lock file (NewLocalnetGuard). Every call works in the
// network namespace of the calling thread.
//
// # Cost
//
// On the 6.18 lab kernel a read of the table is about 1 ms (five dumps),
// a batch that only adds elements about 0.2 ms, and any batch that deletes
// (an element, a rule, the table) or updates a base chain about 13 ms: the
// kernel waits for an RCU grace period before it frees what it replaced.
// So Ensure of one more bridge costs about 1.3 ms, the first Ensure and
// every Delete about 14 ms.
package nftables
