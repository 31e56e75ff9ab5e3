package daemon

import (
	"context"
	"log"
	"strings"
	"time"

	"github.com/plumbnet/plumb/docker"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/veth"
)

// Restarted containers. Each time Docker starts a container that runs
// with --network=none (`docker restart`, `docker stop` then `start`, a
// restart policy, dockerd starting again) the container gets a new network
// namespace with lo alone: its endpoints are stale. The daemon follows the
// Engine's container start events and re-attaches every container plumb
// attached as `plumb attach` of it again would: the same address, MAC,
// interface name, aliases, links and published ports, its names served,
// its hosts and resolv.conf written again. Docker has started the
// container's process by then; an application that resolves names or
// binds an address at start belongs in a sandbox, whose holder keeps the
// namespace over the application's restarts (README "Restarted
// containers").

// reattachTimeout bounds the Engine calls of one container's re-attach.
const reattachTimeout = 30 * time.Second

// followDocker follows Docker's container start events in the background
// (dockerFollower) through the Manager's Docker client, else $DOCKER_HOST's,
// until ctx ends or the stop it returns is called. Stop returns once no
// re-attach is under way, so that the daemon never closes its listeners
// and held ports under one. A DOCKER_HOST that plumb cannot use is logged
// once, and nothing is followed.
func (d *daemon) followDocker(ctx context.Context) (stop func()) {
	c := d.state.Docker
	if c == nil {
		var err error
		if c, err = docker.Default(); err != nil {
			log.Printf("plumb daemon: not following docker's container events: %v", err)
			return func() {}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	f := newDockerFollower(c, d.dockerEndpoints, d.containerStarted)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.run(ctx)
	}()
	return func() { cancel(); <-done }
}

// dockerEndpoints are the records of every network of Docker containers
// (not CNI attachments, which their runtime attaches again itself).
func (d *daemon) dockerEndpoints() []*network.Endpoint {
	all, _ := d.state.AllEndpoints("")
	var out []*network.Endpoint
	for _, ep := range all {
		if isDockerEndpoint(ep) {
			out = append(out, ep)
		}
	}
	return out
}

func isDockerEndpoint(ep *network.Endpoint) bool {
	return ep.ContainerID != "" && ep.Kind != network.KindCNI
}

// containerStarted re-attaches every endpoint recorded here of the Docker
// container with full id id whose recorded namespace is gone, each under
// its network's lock as `plumb attach` takes it (network.Manager.Repair).
// An endpoint detached meanwhile stays detached. One whose namespace
// lives is left to the reconciler: the start was replayed, or the
// container shares another's namespace. Each re-attach is logged in one
// line, and so is each failure. A container with no record costs one
// failed open per network: a Docker container's endpoint is recorded
// under its container id.
func (d *daemon) containerStarted(id string) {
	if !isContainerID(id) {
		return
	}
	names, _ := d.state.NetworkNames()
	var eps []*network.Endpoint
	for _, n := range names {
		ep, err := d.state.Endpoint(n, id)
		if err == nil && isDockerEndpoint(ep) && ep.ContainerID == id && !ep.Alive() {
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reattachTimeout)
	defer cancel()
	for _, ep := range eps {
		d.reattach(ctx, d.state, ep) // its Daemon is this daemon, in-process (Run)
	}
}

// reattach repairs ep through m and logs what it did.
func (d *daemon) reattach(ctx context.Context, m *network.Manager, ep *network.Endpoint) {
	began := time.Now()
	who := ep.ContainerName
	if who == "" {
		who = ep.ContainerID[:12]
	}
	if err := m.Repair(ctx, ep); err != nil {
		log.Printf("plumb daemon: container %s started again: re-attaching it to %s: %v", who, ep.Network, err)
		return
	}
	now, err := d.state.Endpoint(ep.Network, ep.ID)
	if err != nil {
		return // detached meanwhile: nothing done
	}
	if now.NamespaceKey() == ep.NamespaceKey() {
		log.Printf("plumb daemon: container %s started again: not re-attached to %s: %q is another target now (renamed?); `plumb attach` it again", who, ep.Network, ep.Target)
		return
	}
	took := time.Since(began).Round(time.Millisecond)
	// Who sent to the address while it was gone waits for its next ARP
	// request, a second later, unless told.
	announced := ""
	if !now.IP.IsValid() {
		// IPv6 only: neighbours re-learn through NDP's own probes.
	} else if err := veth.Announce(now.NetNS, now.IfName, now.IP.Addr()); err != nil {
		announced = " (" + err.Error() + ")"
	}
	log.Printf("plumb daemon: container %s started in a new namespace: re-attached to %s as %s on %s with %d published ports, in %v%s",
		who, ep.Network, now.Addr(), now.IfName, len(now.Ports), took, announced)
}

// isContainerID reports whether s is a full container id, 64 lowercase
// hex digits: an event's id is a file name here.
func isContainerID(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}
