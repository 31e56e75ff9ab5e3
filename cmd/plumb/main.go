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
	"strconv"

	// First of all initialisers: GOMAXPROCS=1 for the one-shot commands.
	_ "github.com/plumbnet/plumb/cmd/plumb/internal/oneproc"

	"github.com/plumbnet/plumb/cni"
)

func main() {
	if longRunning(os.Args[1:]) {
		defaultGOMAXPROCS()
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

// defaultGOMAXPROCS undoes package oneproc for a process that stays: it
// sets GOMAXPROCS as the runtime would have at start, from $GOMAXPROCS when
// that is a positive number, else the runtime's default (the CPUs the
// process may use, within its cgroup's quota, kept up to date).
func defaultGOMAXPROCS() {
	if n, err := strconv.ParseInt(os.Getenv("GOMAXPROCS"), 10, 32); err == nil && n > 0 {
		runtime.GOMAXPROCS(int(n))
		return
	}
	runtime.SetDefaultGOMAXPROCS()
}
