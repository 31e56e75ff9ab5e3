// Package explain tells a person why SRC reaches DST or not: the path a
// packet takes as plumb built the host, step by step, each with the
// command that shows the same thing, and a verdict (reachable, blocked,
// no listener, no route).
//
// It is a view, like package doctor: it reads plumb's own model (package
// network: networks, endpoints, published ports), the rules plumb renders
// from it (firewall/iptables) and checks each deciding rule is really in
// the kernel, and it asks the kernel only what the model cannot know: the
// route inside SRC and the listeners at DST (package nsview). Without a
// probe it changes nothing on the host. With one (Probe) it sends one real
// connection from inside SRC and says whether reality agrees.
//
// IPv6 is followed as IPv4 is, by the family of DST's address: the
// ip6tables rules (iptables.Ruleset's Facts6 and V6 rules) or the IPv6
// rules and family-keyed elements of the nftables table, each network's
// IPv6 gateway mode (nat: NAT66, and from outside only published ports;
// nat-unprotected; routed: no masquerade, published ports reached at the
// container's own address; isolated), and published ports DNAT'd on the
// host's IPv6 addresses. The host's own [::1] is never DNAT'd (IPv6 has
// no route_localnet): plumb's daemon relays it, and explain says so.
package explain
