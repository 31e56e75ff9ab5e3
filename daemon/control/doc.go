// Package control is the request/reply protocol on the plumb daemon's
// control socket (RUNDIR/plumb.sock, mode 0600), and the client that the
// one-shot commands use to talk to it.
//
// On the wire a connection carries a sequence of requests, each one JSON
// object answered by one JSON object, in order; the client keeps its
// connection for the life of its process, so an attach that asks three
// things dials once.
//
// The daemon's view of endpoints has one source, the state directory:
// Up and Down name an endpoint (network and id) whose record the daemon
// reads itself, never the record's content.
//
// Whether a daemon runs is told by the flock it holds on RUNDIR/daemon.lock
// for its whole life (Running), never by RUNDIR/plumb.pid or plumb.sock:
// a daemon killed with SIGKILL leaves both behind. A client dialing such a
// socket gets ErrNotRunning, and the next daemon removes both as soon as
// it holds the lock.
package control
