// Package oneproc sets GOMAXPROCS to 1 before plumb's packages initialise.
//
// Most plumb commands are one-shot and run one goroutine at a time: with one
// P the runtime starts fewer threads, which on a 2-core host took 0.3-0.5 ms
// off every attach and detach (bench/). Setting it in main came too late:
// runtime.GOMAXPROCS stops the world and frees the mcache of the P it
// removes, and once the package initialisers have allocated (about 100 KB
// over some 50 size classes) that release touches a fresh page per size
// class, up to 100 page faults, ~0.2 ms. Here no initialiser has allocated
// yet, so the same call costs a few microseconds.
//
// It runs that early because package initialisation follows import paths
// in sorted order, each package once all its imports are initialised (the
// Go spec, "Package initialization"): a package importing only runtime is
// among the first. So it must import nothing else; see TestOneprocInitFirst
// in cmd/plumb. Commands that stay (the daemon, a sandbox holder) get the
// runtime's default back in main.
package oneproc

import "runtime"

func init() { runtime.GOMAXPROCS(1) }
