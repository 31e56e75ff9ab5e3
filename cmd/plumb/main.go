// Command plumb builds Docker's bridge networking by hand: networks, veth
// pairs, a file IPAM, NAT and names, for containers started with
// `docker run --network=none`, plain processes and named namespaces.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
