// Package container turns what the user typed after `plumb attach` into
// something plumb can wire: a network namespace to open, and the files that
// the target sees as /etc/hosts and /etc/resolv.conf.
//
// A target is one of
//
//	pid:N              a process; its netns is /proc/N/ns/net
//	netns:NAME         a named netns, as made by `ip netns add NAME`
//	/path              a netns file (bind mount or /proc/N/ns/net)
//	NAME or ID         a Docker container, looked up through the Engine API
//
// The package exists because the name-service files are where attaching is
// dangerous: plumb runs as root and writes into files that another, possibly
// hostile, root file system controls. Every [File] therefore guarantees that a
// write never lands outside the target's own root: Docker's files are opened
// without following symlinks, a process's files are resolved with openat2
// RESOLVE_IN_ROOT inside /proc/N/root, a named netns gets files under
// /etc/netns/NAME (the `ip netns exec` convention), and the host's own
// /etc/hosts and /etc/resolv.conf are never written, whatever path leads to
// them. Writes are in place (Docker bind-mounts these files, and a rename
// would detach the container's view) and under flock, so that concurrent
// plumb processes do not lose each other's lines.
//
// The file formats are pure functions over bytes, unit tested without root:
// [SetHostsEntries] and [RemoveHostsEntries] own only lines tagged
// "# plumb:TAG" and leave every other line alone; [ParseResolvConf],
// [ResolvConf.Write] and [ContainerResolvConf] produce the resolv.conf Docker
// gives a container on a user-defined network.
//
// Docker targets are looked up with package docker's Engine API client; this
// package imports no other plumb package.
package container
