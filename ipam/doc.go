// Package ipam hands out IPv4 and IPv6 addresses from one network's ranges,
// with its state in plain files: one file per reserved address in the
// network's directory (the IPv6 ones under its v6/ directory, see Dir6),
// holding the id of the endpoint that owns it. A file appears
// with its owner in one step (an unnamed file linked into place, exclusive
// as O_EXCL is), and every writer holds the network's ipam lock, so a
// reservation without an owner is garbage the next allocation takes over.
//
// The shape follows the CNI host-local plugin: a pure Allocator that walks a
// Range, over a small Store interface, with a disk backend. There is no
// database: `ls /var/lib/plumb/networks/NET/ips` shows what is taken, and
// `rm` of a file frees an address. Without a subnet, PickSubnet chooses an
// IPv4 /24 and ULA an IPv6 /64.
package ipam
