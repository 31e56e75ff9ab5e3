// Package firewall is the narrow interface between plumb's orchestration
// (package network) and the host's packet filter: ensure a network's rules,
// publish and unpublish an endpoint's ports, check that both are in place,
// delete a network's rules. The orchestration holds a Firewall and never
// sees a rule, so it can be unit-tested against Fake, and the backend can
// change without touching it.
//
// What does not depend on the backend lives here too: the model the rules
// are made from (Network, Port) and its validation, which every backend
// applies before it writes anything; FlushUDP, since conntrack sits below
// iptables and nftables alike; and the ip_forward switch
// (EnableIPForward, DisableIPForward), which every network that is not
// internal needs.
//
// LocalnetGuard is the second, smaller interface: the guard that keeps
// route_localnet on plumb's bridges from opening the host's loopback to
// containers, made to survive a flush of iptables (see its doc for the
// order its callers keep with route_localnet).
//
// Watcher is optional: a backend that can tell when the host's rules
// change (any table, anyone's change) implements it, so that a reconciler
// checks after a change instead of every few seconds. Both backends do,
// and so does the LocalnetGuard of firewall/nftables; the nf_tables
// notifications they share are heard in internal/nfwatch.
//
// # Backends
//
//   - firewall/iptables: plumb's own PLUMB-* chains, reached by one jump
//     each from the built-in chains, read with iptables-save and written
//     in batches with iptables-restore (see its package doc).
//   - firewall/nftables: one table plumb owns whole, `table inet plumb`,
//     over netlink. Today it holds the LocalnetGuard, whatever the
//     Firewall backend; the nftables Firewall is to come, in the same
//     table.
//
// Fake, in memory, implements Firewall with the iptables backend's
// semantics and LocalnetGuard with firewall/nftables's, for the unit tests
// of other packages; as a Watcher it wakes on its own writes, on Flush
// (drift) and on Changed.
package firewall
