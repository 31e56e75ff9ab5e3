// Package cluster is plumb's cluster agent (the plumb-cluster binary): the
// reconciler between the cluster store (package store, etcd) and this
// host's state directory and kernel. The plumb CLI and daemon keep reading
// only the state directory; they never link the etcd client (its start-up
// cost would be every plumb command's), which lives in plumb-cluster alone.
//
// What Run keeps true, every Poll (200 ms) while anything changed:
//
//   - the host is a member: store.Join under a lease of TTL (10 s),
//     kept alive, rejoined after an outage;
//   - every store network exists here (network.Manager.Materialize): the
//     state record with Driver "overlay", its VNI and the blocks this host
//     owns; the bridge with the gateway (the same address and MAC on every
//     host: a distributed gateway); the firewall rules; the VXLAN device.
//     A network without a block of this host gets one first
//     (store.ClaimBlock, a /BlockBits, 26 by default), so that `plumb
//     attach` allocates locally with no etcd round trip;
//   - a local overlay network that the store no longer has is removed
//     (`plumb network rm --force`): network rm on any host removes it
//     everywhere;
//   - the local endpoint records of every overlay network are published
//     (store.PutEndpoint, id "<host>.<endpoint id>" so that two hosts'
//     ids never clash) and withdrawn when detached (DeleteEndpoint); a
//     failed write is retried at the next round, so attaches made while
//     etcd is unreachable are published when it is back;
//   - every endpoint of another host is programmed on the VXLAN device
//     (overlay.AddRemote: FDB MAC -> that host's underlay, neighbour IP ->
//     MAC), and removed when it goes (DelRemote). The endpoints of a host
//     whose lease expired stay programmed for Grace (30 s), then go;
//   - the names of every endpoint of another live host are in the state
//     directory (networks/<net>/remote/<id>.json, network.SetRemotes), and
//     the running daemon is told (control.OpRemotes), so its 127.0.0.11 and
//     gateway listeners answer them; a host whose lease expired loses its
//     names at the next round, not after Grace.
//
// The agent keeps an in-memory copy of the store: store.Load, then
// store.Watch from the next revision, a Resync event replacing it whole.
// What it programs is derived from that copy and the state directory at
// each round, never from single events, so a restart, an outage or a lost
// event converges the same way.
//
// `plumb daemon --store` runs and supervises the agent (daemon.Agent).
//
// Not yet (see the TODO list of issue 18): claiming a second block when
// the first is full, the daemon restoring the VXLAN
// device when it rebuilds a vanished bridge, doctor/inspect/graph of
// overlay paths, IPv6 overlays.
package cluster
