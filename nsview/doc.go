// Package nsview tells what a network namespace holds — its processes, its
// interfaces, routes and neighbours, its listening sockets — read from the
// host through netlink and sock_diag, without any tool inside the
// namespace: a container built FROM scratch has no ip, ss or ps of its own.
//
// Each function names the command a person would type for the same view,
// e.g. `nsenter --net=PATH ss -tulnp`. Nothing here changes the namespace.
package nsview
