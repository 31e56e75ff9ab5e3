// Package daemon is plumb's long-running process, `plumb daemon`, as named
// parts:
//
//   - the name service (names.go, gateway.go): Docker's embedded DNS
//     model, a listener at 127.0.0.11:53 inside every attached namespace
//     and one on each network's gateway address, answering from one table;
//   - the port holder (ports.go): a bound socket per published host port,
//     as docker-proxy keeps them, so no other process takes the port;
//   - the veth reaper (reaper.go): deletes the veth pairs that detach
//     retired, in the background, because a deletion costs the kernel
//     15-30 ms of RCU grace periods;
//   - the Docker follower (containers.go, dockerevents.go): follows the
//     Engine's container start events, through dockerd's absences and
//     restarts, and re-attaches a container plumb attached when Docker
//     starts it again in a new namespace.
//
// Its view has one source, the state directory (package network reads it):
// at start, on `sync` and on each `up` it reads the records; the one-shot
// commands only tell it which endpoint changed, over the control socket
// (package control). One daemon runs per run directory.
package daemon
