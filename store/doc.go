// Package store is plumb's cluster store: the desired state of overlay
// networks, shared by every plumb host, kept in etcd (3.4 or newer; the
// client is go.etcd.io/etcd/client/v3). plumb hand-rolls no consensus: every
// check-and-set below is one etcd transaction.
//
// # Key layout
//
// Every key lives under Prefix, "/plumb/v1/"; every value is one JSON
// record.
//
//	/plumb/v1/networks/<net>              Network  {name, id, subnet, gateway, vni, mtu, internal, created}
//	/plumb/v1/vni/<N>                     "<net>"  the claim on VNI N (VNIBase + n), made with the network
//	/plumb/v1/hosts/<host>                Host     {name, underlay, vtep_mac}; attached to the host's lease
//	/plumb/v1/blocks/<net>/<cidr>         "<host>" e.g. blocks/blue/10.20.0.64/26; no lease, no TTL
//	/plumb/v1/endpoints/<net>/<id>        Endpoint {network, id, host, ip, mac, names}; no lease
//
// Names (network, host, endpoint id) are one token of [A-Za-z0-9_.-], so
// "/" only ever separates the parts of a key and a prefix listing of
// blocks/<net>/ or endpoints/<net>/ never reaches into another network.
//
// # Versions
//
// The "v1" is the layout's version, not etcd's. A layout that changes
// incompatibly goes under /plumb/v2/ next to v1: a v2 plumb reads v1 once
// (a migration it logs), writes v2 only, and v1 hosts keep working on v1
// until they are upgraded; neither ever writes the other's keys. Records
// may gain fields within v1 (JSON ignores what it does not know).
//
// # Liveness, blocks and endpoints
//
// A host's record is held by an etcd lease that Join keeps alive: when a
// host dies (or loses etcd for longer than the TTL) its record disappears
// and every watcher sees a host delete. Blocks and endpoints are NOT held
// by the lease, on purpose: the issue asks that a dead host's names vanish
// at once but its FDB/neighbour entries and endpoints only after a grace
// period, and that a host cut off from etcd finds its block and endpoints
// still there when it comes back. So a consumer joins the two itself: an
// endpoint whose Host has no hosts/ record is "of a dead host" (drop its
// DNS names now, its kernel entries after the grace period); the records
// themselves go only by DeleteEndpoint, DeleteNetwork or RemoveHost
// (`plumb host rm`).
//
// # Contexts and outages
//
// Every call takes a context and, when etcd cannot be reached, blocks until
// the context ends: callers pass a deadline. Errors name the endpoints.
//
// # Encryption
//
// Nothing here is encrypted or authenticated; etcd:// is plain HTTP. A TLS
// scheme (etcds://, with client certificates) fits ParseURL and Open
// without changing the layout.
package store
