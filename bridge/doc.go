// Package bridge owns the Linux bridge behind a plumb network: the switch
// every endpoint's host-side veth is plugged into, carrying the network's
// gateway address (Docker's br-xxxx).
package bridge
