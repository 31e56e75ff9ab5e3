// Package sandbox is Kubernetes' pause pattern with plumb as the pause: a
// tiny holder container, started with --network=none from an image plumb
// imports from its own binary, runs `plumb hold` ([Hold]) and keeps a
// network namespace that plumb attaches before any application starts.
// Application containers join it with `docker run --network=container:NAME`
// and find their address, routes, names (Docker gives them the holder's
// /etc/hosts and resolv.conf) and published ports ready; restarting them
// keeps all of it, because the holder keeps the namespace.
//
//	plumb sandbox create NAME --net NET   Create: docker run the holder, then plumb attach it
//	plumb sandbox rm NAME                 Remove: plumb detach it, then docker rm -f it
//	plumb sandbox ls                      List: the holders of this state directory
//
// It exists apart from package network because it is orchestration over two
// clients, not part of the model: it drives dockerd through package docker
// and attaches through network.Manager's exported API (ValidateAttach,
// Attach, Detach, AllEndpoints), with the Manager's own Docker client, so
// that the holder it makes is the container Attach resolves. Every holder
// carries [Label] naming its state directory; plumb never starts, stops or
// removes a container without it.
package sandbox
