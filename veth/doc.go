// Package veth owns the cable between a bridge and a network namespace: a
// veth pair created with its peer straight inside the target namespace (no
// move, so the peer never appears in the host namespace), and the
// configuration of that peer from inside: name, MAC, MTU, address, routes
// and loopback.
package veth
