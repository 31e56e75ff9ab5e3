// Package inspect is `plumb inspect TARGET`: everything about one target's
// networking in one view — its namespace and processes, its interfaces
// with their host-side veth peers and bridges, routes, neighbours,
// listening sockets, the resolv.conf and hosts it sees, and what plumb
// made for it (endpoints, published ports, DNS names, firewall rules).
// It works for a target plumb never attached too, and changes nothing.
//
// Every section carries the command a learner would type to see the same
// thing by hand (`nsenter --net=/proc/123/ns/net ip route`, `iptables-save
// | grep ...`), so that the view teaches the tools it replaces. Like
// doctor, it combines network's model with the leaves (nsview, container,
// firewall/iptables); it holds no state of its own.
package inspect
