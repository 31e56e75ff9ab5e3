// Command plumb builds Docker's bridge networking by hand: networks, veth
// pairs, a file IPAM, NAT and names, for containers started with
// `docker run --network=none`, plain processes and named namespaces.
//
// With CNI_COMMAND set in its environment it is a CNI plugin instead (see
// package cni), so the one binary can be installed in a runtime's CNI_PATH.
package main

import (
	"os"
	"runtime"

	"github.com/plumbnet/plumb/cni"
)

func main() {
	if !longRunning(os.Args[1:]) {
		// A one-shot command runs one goroutine at a time: with one P the
		// runtime starts fewer threads, which on a 2-core host took
		// 0.3-0.5 ms off every attach and detach (bench/).
		runtime.GOMAXPROCS(1)
	}
	if os.Getenv("CNI_COMMAND") != "" {
		os.Exit(cni.New().Main())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// longRunning reports whether args run a process that stays: the daemon,
// which serves DNS on every core, and a sandbox's holder. A target that
// happens to be named "daemon" only keeps the runtime's default.
func longRunning(args []string) bool {
	for _, a := range args {
		if a == "daemon" || a == "hold" {
			return true
		}
	}
	return false
}
