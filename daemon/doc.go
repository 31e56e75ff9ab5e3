// Package daemon is plumb's long-running process, `plumb daemon`, as named
// parts:
//
//   - the name service (names.go, gateway.go): Docker's embedded DNS
//     model, a listener at 127.0.0.11:53 inside every attached namespace
//     and one on each of a network's gateway addresses (IPv4 and IPv6),
//     answering A and AAAA from one table;
//   - the port holder (ports.go): a bound socket per published host port,
//     as docker-proxy keeps them, so no other process takes the port;
//   - the veth reaper (reaper.go): deletes the veth pairs that detach
//     retired, in the background, because a deletion costs the kernel
//     15-30 ms of RCU grace periods;
//   - the Docker follower (containers.go, dockerevents.go): follows the
//     Engine's container start events, through dockerd's absences and
//     restarts, and re-attaches a container plumb attached when Docker
//     starts it again in a new namespace;
//   - the reconciler (reconcile.go, backoff.go): keeps the kernel true to
//     the state directory. Its first pass is the boot restore; then link
//     and address notifications, the firewall's (nf_tables) notifications
//     and a pass every minute tell it of drift, which it repairs with the
//     comparison and the repairs `plumb doctor` uses (package network):
//     the whole firewall in one write, a bridge, an endpoint attached
//     again. It lets an endpoint whose namespace is gone go stale (its
//     ports let go, its address kept for a grace period), logs one line
//     per repair and backs off from a drift that comes back as fast as it
//     is repaired.
//
// Its view has one source, the state directory (package network reads it):
// at start, on `sync` and on each `up` it reads the records; the one-shot
// commands only tell it which endpoint changed, over the control socket
// (package control). One daemon runs per run directory.
package daemon
