// Package iptables is the iptables backend of firewall.Firewall: it
// installs and removes the iptables rules of plumb's bridge networks, what
// Docker's bridge driver writes for a user-defined network (forward accept,
// isolation between networks, masquerade), written into chains plumb owns
// so that it can live beside a running dockerd, or on a host without
// Docker, and leave no trace once its last network is gone.
//
// # Scope
//
// IPv4 with iptables, and IPv6 with ip6tables for the networks that have
// an IPv6 subnet (firewall.Network.Subnet6) and the ports published on an
// IPv6 container address. Published ports are DNAT rules in
// PLUMB-PREROUTING and PLUMB-OUTPUT (AddPorts, DeletePorts); what they need
// besides (forward accept, hairpin and localhost masquerade, the INPUT
// guard) is part of every network's rules, so that publishing costs one
// iptables-restore and no read.
//
// # IPv6
//
// ip6tables holds chains of the same names, reached the same way, with
// the rules of each network's IPv6 family (Rules, V6 set); IPv4 rules are
// written only for a network with an IPv4 Subnet, so an IPv6-only network
// runs no iptables command, and a network without Subnet6 no ip6tables
// command (DeleteNetwork, DeletePorts and Snapshot, which do not know the
// families, read ip6tables where it can be used). Every change is one
// restore per family, made all or nothing: when the ip6tables restore
// fails, the iptables one already made is undone. Gateway modes act per
// family (firewall.Network.Mode4, Mode6): nat masquerades (NAT66 for
// IPv6) and, for IPv6, drops what comes in to the bridge that was not
// DNATed; nat-unprotected lets in anything routed to a container; routed
// does not masquerade and lets in, besides ICMP, only published ports at
// the container's own address and port (PLUMB-ROUTED, a chain made only
// while such a network exists); isolated is Internal for that family.
//
// IPv6 has no route_localnet: a connection from ::1 cannot be DNATed out
// through a bridge. So ip6tables has no PLUMB-INPUT guard and no loopback
// MASQUERADE, its PLUMB-OUTPUT jump is `! -d ::1/128 -m addrtype
// --dst-type LOCAL` (as Docker's), and a port published on [::1] gets no
// rule: the daemon's proxy serves it. Nothing of plumb's sits in the
// filter table's INPUT or OUTPUT of ip6tables, so neighbour discovery on
// the bridges is never filtered.
//
// On a host without ip6tables, or whose kernel has no IPv6, IPv4-only
// networks work as ever and a network with IPv6 is refused with an error
// saying why.
//
// # Model
//
// plumb writes only into its own chains, PLUMB-*, each reached by exactly
// one jump, always the first rule of the chain that holds it:
//
//	filter  FORWARD       -> PLUMB-FORWARD       (position 1, ahead of Docker's chains and policy DROP)
//	filter  PLUMB-FORWARD -> PLUMB-ISOLATION-1   (position 1)
//	filter  PLUMB-ISOLATION-1 rules              -> PLUMB-ISOLATION-2
//	filter  INPUT         -> PLUMB-INPUT         (position 1)
//	nat     POSTROUTING   -> PLUMB-POSTROUTING   (position 1)
//	nat     PREROUTING    -> PLUMB-PREROUTING    (position 1, -m addrtype --dst-type LOCAL)
//	nat     OUTPUT        -> PLUMB-OUTPUT        (position 1, -m addrtype --dst-type LOCAL)
//
// Every rule carries a comment starting with "plumb": "plumb" on the jumps,
// "plumb:NAME" on the rules of network NAME (see Rules). plumb never changes
// a built-in policy and never flushes or deletes a chain it does not own.
// Traffic between two plumb networks is dropped by the isolation chains;
// traffic between a plumb network and a Docker network is left to the
// forwarding rules (plumb does not write into Docker's isolation chains).
//
// # Cost and atomicity
//
// EnsureNetwork and DeleteNetwork read the whole ruleset once with
// `iptables-save` and write what differs with one
// `iptables-restore --noflush --wait` whose payload holds one section per
// table; iptables-restore applies each section atomically. A call that
// finds nothing to do execs only iptables-save. The DeleteNetwork that
// removes the last network may add one `iptables-restore` per table it
// drops (below). go-iptables locates iptables and reads its version, and
// runs the one-command-at-a-time fallback when a batched delete fails.
//
// # Concurrency
//
// A call reads, computes, then writes; the xtables lock taken by
// `iptables-restore --wait` covers only the write. Processes that must not
// interleave therefore share a plumb lock file, New's lockPath: flock(2)
// held from the read to the end of the write. With lockPath "", the
// callers must serialize. As a second line of defence, chains are created
// with `-N` (which fails if the chain appeared meanwhile, leaving the table
// untouched, after which EnsureNetwork reads again and retries once), never
// with a `:CHAIN` line, which under --noflush silently flushes a chain
// another writer just filled.
//
// # iptables-nft and iptables-legacy
//
// Debian 12's iptables is iptables-nft (`iptables -V` says "(nf_tables)").
// What it does, checked in a fresh network namespace:
//
//   - `iptables-save` prints nothing: no nft table exists yet. But
//     `iptables-save -t nat` and `iptables -t nat -S` print the built-in
//     chains of the missing table (and create nothing), so only a plain
//     `iptables-save` tells whether a table exists.
//   - The first rule written creates the nft table (`table ip nat`) with
//     only the base chains it needs (POSTROUTING), though iptables-save
//     shows all the built-in chains.
//   - Deleting every rule and user chain leaves the table and its base
//     chains behind: iptables-save now prints an empty "*nat" section where
//     it printed nothing before.
//   - `iptables-restore` without --noflush, fed "*nat\nCOMMIT", deletes the
//     nft table altogether; no `nft` binary is needed.
//
// So that iptables-save reads exactly as before the first EnsureNetwork,
// the jump plumb adds to a built-in chain of a table that did not exist is
// commented "plumb created-table" rather than "plumb". The DeleteNetwork
// that removes plumb's last chains drops such a table when nothing else is
// left in it (built-in chains only, policy ACCEPT, no rule). The mark lives
// in the ruleset itself, so any later plumb process sees it; a table plumb
// did not create is never dropped. A third party writing into the table
// between that DeleteNetwork's read and its drop would lose its write: the
// window is the few milliseconds of one iptables-restore.
//
// All of this holds for ip6tables and ip6tables-save alike.
//
// With iptables-legacy, tables appear in iptables-save once first used in
// the namespace and cannot be removed: after the last DeleteNetwork a table
// plumb was the first to use stays listed, empty. Mixing both backends on
// one host (Docker on legacy, plumb on nft or the reverse) is unsupported:
// each sees only its own rules. A table that iptables-nft cannot display
// ("# Table `nat' is incompatible, use 'nft' tool.") is refused.
//
// # Published ports
//
// The rules of an endpoint's ports carry the comment "plumb:NAME/ENDPOINT":
// EnsureNetwork leaves them alone, DeletePorts removes one endpoint's,
// DeleteNetwork removes them with the network, and their presence keeps
// plumb's chains alive. A new chain is one skeleton entry (the chain, its
// parent, an optional match such as `-m addrtype --dst-type LOCAL`).
//
// # Watching
//
// Firewall.Watch tells a reconciler when the rules changed. Under
// iptables-nft it hears the kernel's nf_tables notifications (one call per
// transaction, a flush of 1000 rules included; every table, so plumb's
// nftables guard too). Under iptables-legacy, whose x_tables notify
// nobody, it reads each legacy table's header (IPT_SO_GET_INFO: rule
// count, size, chain offsets) four times a second and calls when one
// differs (ip6tables' tables too, IP6T_SO_GET_INFO, when the kernel lists
// them). Measured at 100 networks / 1000 endpoints on the 2-core lab VM
// (bench_privileged_test.go, watch_bench_privileged_test.go):
//
//	full check (Snapshot, every network and endpoint)  nft 32 ms CPU, legacy 17 ms
//	  of which iptables-save exec and parse            nft 28 ms,     legacy 13 ms
//	Watch, flush to call (from the start of iptables -F) nft p50 4 ms, p99 11-29 ms
//	                                                   legacy p50 126 ms, p99 246 ms
//	Watch idle, whole process                          nft 28 µs/s, legacy ~1 ms/s
//	                                                   (four timer wake-ups a second)
//	legacy header read                                 8 µs
//
// There is no netlink probe of plumb's iptables-nft rules: the kernel's
// dump of 2800 rules is the cost, not iptables-save's text. Dumping them
// (probe_bench_privileged_test.go) costs 40-75 ms CPU through
// google/nftables or mdlayher/netlink, 8 ms with raw blocking reads: at
// best 3.5 times cheaper than a full check, and only where Watch already
// makes checks rare. The ruleset's generation (NFT_MSG_GETGEN, 0.2 ms)
// tells that something changed, which Watch tells for free.
package iptables
