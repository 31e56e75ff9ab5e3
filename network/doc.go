// Package network is plumb's model and orchestration: networks, endpoints,
// their state on disk (the desired state), and the operations that change
// the host to match: Create, Remove, Attach and Detach, each an explicit
// list of named steps with its undo (createSteps, attachSteps, detachSteps),
// run by one loop (runSteps, runAll) whose fault hook can fail any step.
//
// It composes the leaves: bridge and veth (behind Links), firewall, ipam,
// portmap, container (behind Targets) and the daemon (behind Daemon, the
// daemon/control client). Those three interfaces are what the unit tests
// fake; the real ones are made on first use. It translates the leaves'
// errors into its own (ErrInvalid, ErrExhausted, ...), so its callers,
// cmd/plumb, cni, sandbox and the daemon, never branch on a leaf's error.
//
// Beside the CLI's operations it exports the core the CNI plugin is built
// on: AttachNamespace, DetachID, Verify, Status and Collect.
//
// A network's Driver is "bridge" (Create: one host) or "overlay"
// (Materialize, called by the cluster agent plumb-cluster for each network
// of the cluster store): the same bridge plus a VXLAN device (package
// overlay), the VNI and the address blocks this host owns recorded in
// network.json, attach allocating only inside those blocks (allocate4).
// Everything else (attach, detach, the daemon, ps) treats both alike;
// network rm also deletes the VXLAN device.
//
// On disk, under the state directory (default /var/lib/plumb):
//
//	lock                               global lock for network create/rm and a firewall switch
//	firewall.json                      the firewall backend the networks use (SwitchFirewall)
//	host.json                          what plumb changed on the host (ip_forward)
//	targets/<key>.resolv.conf          a target's resolv.conf before plumb
//	networks/<net>/network.json        the network's config
//	networks/<net>/ips/<ip>            one file per reserved address (package ipam)
//	networks/<net>/v6/ips/<ip>         the same for IPv6 (ipam.Dir6)
//	networks/<net>/endpoints/<id>.json one file per attached endpoint
//	networks/<net>/remote/<id>.json    an overlay network's endpoint on another host (RemoteEndpoint, by plumb-cluster)
//	networks/<net>/attach.lock         the network's lock
package network
