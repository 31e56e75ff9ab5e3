// Package network is plumb's model and orchestration: networks, endpoints,
// their state on disk, and the Create/Remove/Attach/Detach operations that
// compose the leaf packages (bridge, veth, ipam, firewall, container) with an
// undo stack, so that a failure at any step leaves nothing behind.
//
// It is the only package that imports the leaves; the cobra commands in
// cmd/plumb and the CNI adapter call it and print what it returns.
//
// On disk, under the state directory (default /var/lib/plumb):
//
//	lock                               global lock for network create/rm
//	host.json                          what plumb changed on the host (ip_forward)
//	networks/<net>/network.json        the network's config
//	networks/<net>/ips/<ip>            one file per reserved address (package ipam)
//	networks/<net>/endpoints/<id>.json one file per attached endpoint
//	networks/<net>/lock                the network's lock
package network
