// Command plumb builds Docker's bridge networking by hand: networks, veth
// pairs, a file IPAM, NAT and names, for containers started with
// `docker run --network=none`, plain processes and named namespaces.
//
// With CNI_COMMAND set in its environment it is a CNI plugin instead (see
// package cni), so the one binary can be installed in a runtime's CNI_PATH.
package main

import (
	"os"

	"github.com/plumbnet/plumb/cni"
)

func main() {
	if os.Getenv("CNI_COMMAND") != "" {
		os.Exit(cni.New().Main())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
