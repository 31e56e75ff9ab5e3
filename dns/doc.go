// Package dns is plumb's embedded DNS server: the piece of Docker's bridge
// model that lets containers on a user-defined network find each other by
// name. Docker answers on 127.0.0.11 inside every container; `plumb daemon`
// does the same, and on each network's gateway addresses (IPv4 and IPv6),
// from one in-memory Table that attach and detach keep current.
//
// The package is a leaf: it knows records, scopes and the DNS wire, and
// nothing of namespaces, sockets' origin or the on-disk state. The daemon
// (network/, cmd/plumb) makes the sockets in each namespace, passes them to
// Serve, decides with Handler.ScopeOf which networks a client sees, and calls
// Table.Set / Table.Remove as endpoints come and go.
//
// # Behaviour, and where it follows Docker
//
//   - Names are whatever the caller passes per endpoint: Docker's are the
//     container name, its aliases and the short container id. They match
//     case-insensitively, with or without a trailing dot, and also as
//     "name.network" for a network in scope.
//   - IPv6: an endpoint's IPv6 address answers AAAA for every one of its
//     names (aliases and short id included), its IPv4 address A; either may
//     be missing (an IPv6-only network has no IPv4), and a name that has
//     only the other family answers NODATA, as Docker does. PTR answers for
//     ip6.arpa nibble names of endpoint addresses too. Upstreams may be
//     IPv6 ("[2001:db8::53]:53", a link-local one with its zone).
//   - A name on several networks in scope answers with the first network's
//     addresses (Scope.Networks is in priority order), as Docker does. Several
//     endpoints sharing a name on one network all answer (DNS round robin),
//     rotated per query.
//   - TTL is 600 seconds, RA is set and AA is not: all as Docker
//     (libnetwork/resolver.go).
//   - A name in scope without a record of the asked type answers NOERROR
//     with no answer (NODATA), never NXDOMAIN, so a resolver asking A and
//     AAAA does not conclude the name is gone. This holds for every type, not
//     only AAAA: a name we own is never forwarded (Docker forwards MX, TXT, ...
//     of its own names to the outside world).
//   - PTR for an address in scope answers "name.network." (Docker's form),
//     name being the first name the endpoint was given.
//   - Names not in scope are forwarded, single-label ones included, as Docker
//     does: a container sees what the host's resolver would answer. Not
//     forwarded when the scope is Internal: those answer NXDOMAIN, where
//     Docker answers SERVFAIL. Nothing outside an internal network exists,
//     and NXDOMAIN says so at once; SERVFAIL makes stub resolvers retry and
//     applications report a temporary failure. With no Forwarder at all
//     (nowhere to forward) the answer is SERVFAIL.
//   - A client the daemon does not recognise gets no answer at all. The
//     listeners live inside containers and on bridge gateways, where only
//     our clients should be; silence keeps them from being an open resolver
//     or a reflection source, and costs a stranger only a timeout.
//   - Replies over UDP larger than the client's EDNS0 size (512 without
//     EDNS0) are truncated with TC set; over TCP up to 64KiB.
//   - UDP is served by one loop per socket that reads and writes batches
//     (recvmmsg, sendmmsg) and answers the common query (one question for a
//     name of the table, at most a plain OPT) straight from the wire, with
//     no allocation; everything else goes through the Handler, which is the
//     reference: the fast path writes the very bytes it would (tests and
//     FuzzFastPath compare them). TCP is served by miekg/dns.
//   - TCP connections have read, write and idle timeouts (2s, 2s, 8s), a
//     per-listener limit (256) and a per-client-address share of it (16). A
//     client ScopeOf refuses has its TCP connection closed as soon as it is
//     accepted, so strangers hold no slot. Upstream forwarding has a
//     per-server timeout and a limit on queries in flight. None of the
//     limits queues: past them, queries fail fast.
package dns
