// Package portmap is Docker's -p: the mapping grammar
// ([HOSTIP:][HOSTPORT[-END]:]PORT[-END][/PROTO], HOSTIP an IPv4 address or
// an IPv6 one in brackets), a published port as plumb records it, and the
// Holder that reserves host ports the way docker-proxy does, with a bound
// socket per port, and relays the ones DNAT cannot serve (the host's own
// ::1: IPv6 has no route_localnet) to their container.
//
// It knows nothing of networks or rules: package network records the
// mappings, package firewall turns them into DNAT rules, and the daemon
// keeps the Holder.
package portmap
