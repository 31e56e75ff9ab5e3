// Package cni is plumb as a CNI plugin: the adapter between the CNI
// protocol (containernetworking/cni's skel, types and version packages)
// and plumb's model in package network, which the plugin shares with the
// CLI: the same state directory, the same IPAM files and locks, the same
// daemon. A network first used through CNI shows in `plumb network ls` and
// `plumb ps`; a network made with `plumb network create` is usable from a
// CNI config that names it.
//
// The verbs (verbs.go) are written over Backend, network's exported core
// (AttachNamespace, DetachID, Verify, Collect, Status, Create); cni imports
// no leaf package, and its unit tests run the verbs over a fake Backend.
//
// The plumb binary acts as the plugin when CNI_COMMAND is set (cmd/plumb
// dispatches to Main before the CLI starts). It implements ADD, DEL, CHECK,
// VERSION, GC and STATUS of CNI 1.1, for configs of cniVersion 0.4.0, 1.0.0
// and 1.1.0, and answers in the version it was asked in. An attachment is
// the pair (CNI_CONTAINERID, CNI_IFNAME).
//
// Errors are CNI error objects with the spec's codes:
//
//	1   incompatible cniVersion (skel)
//	2   unsupported field: an "ipam" section (plumb allocates addresses itself)
//	3   CHECK of an attachment plumb has no record of
//	4   missing or invalid CNI_* variables, CNI_ARGS plumb does not know
//	5   the state directory cannot be read or written
//	6   the config is not JSON (skel), or a field has the wrong JSON type
//	7   invalid config or capability value (subnet, mtu, ips, mac, aliases...),
//	    or one that contradicts the existing network of that name
//	8   CNI_NETNS missing, not a network namespace, or the plugin's own
//	11  no free address, the requested address taken, the bridge full: retry later
//	50  STATUS: no ADD can succeed now
//	51  STATUS: and attachments already there may be cut off
//	999 anything else, e.g. a CHECK that finds something missing
package cni
