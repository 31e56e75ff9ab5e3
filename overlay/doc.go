// Package overlay owns the kernel data plane of one overlay network on one
// host: a VXLAN device on the network's bridge, and the static entries that
// tell it where every remote endpoint lives. It knows nothing of the store
// that the entries come from.
//
// The design, as Docker's overlay driver has it (peerdb: one FDB and one
// neighbour entry per remote endpoint), with nothing learned and nothing
// flooded across hosts:
//
//   - The VXLAN device has learning off and no default destination (no
//     group, no all-zeros FDB entry): a frame whose destination MAC has no
//     static entry is dropped, so broadcasts and multicasts (DHCP, IPv6
//     neighbour discovery, mDNS) stay on their host.
//   - Per remote endpoint, three entries: the VXLAN FDB entry MAC -> VTEP
//     (where to tunnel it), the bridge's static FDB entry MAC -> the VXLAN
//     port (so the bridge forwards to it instead of flooding; the port does
//     no learning) and a permanent neighbour entry IP -> MAC on the VXLAN
//     device.
//   - ARP is answered on the sending host: the VXLAN device is made with
//     `proxy`, so an ARP request the bridge floods to it is answered by the
//     kernel from the device's neighbour table and never crosses the
//     underlay; a request for an address not in the table is dropped.
//
// That last point is what makes a distributed gateway safe: every host puts
// the same gateway address on its own bridge, a container's ARP for it is
// answered by its own host's bridge, and the request never reaches another
// host, whose bridge would answer too. (plumb's bridge MAC is derived from
// the bridge name, itself derived from the network name, so the gateway
// also has the same MAC everywhere: a neighbour entry never points at
// another host's gateway.) A consequence, as with Docker: a host cannot
// reach a remote container by its overlay address, since the reply goes to
// the container's own host's gateway.
//
// The VXLAN device's MTU is the underlay's less the encapsulation (50 bytes
// over IPv4, 70 over IPv6); the bridge and every endpoint of the network
// must use it too, or large packets are silently dropped.
//
// Every function takes a netlink handle, which may be one opened in another
// network namespace (netlink.NewHandleAt), so that the daemon and the tests
// can program a namespace without entering it.
package overlay
