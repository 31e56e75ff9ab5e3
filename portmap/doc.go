// Package portmap is Docker's -p: the mapping grammar
// ([HOSTIP:][HOSTPORT[-END]:]PORT[-END][/PROTO]), a published port as
// plumb records it, and the Holder that reserves host ports the way
// docker-proxy does, with a bound socket per port.
//
// It knows nothing of networks or rules: package network records the
// mappings, package firewall turns them into DNAT rules, and the daemon
// keeps the Holder.
package portmap
