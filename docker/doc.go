// Package docker is plumb's client of the Docker Engine API: the few calls
// plumb makes to dockerd, as plain HTTP on its unix socket.
//
// It exists so that plumb needs neither the docker CLI nor the Docker SDK:
// plumb looks a container up to find its network namespace and its
// /etc/hosts and /etc/resolv.conf (package container), it starts and
// removes the holder containers of sandboxes (package sandbox), and the
// daemon follows containers' start events. That is eleven requests; the
// SDK would bring its whole dependency tree for them. A [Client] speaks
// only to a local unix:// socket, bounds every call but the event stream
// with a timeout, and reads bounded answers.
//
// The Engine API calls it makes, with the docker CLI command each is:
//
//	GET    /containers/{ref}/json            docker inspect REF                  [Client.InspectContainer]
//	GET    /containers/json?all=1&filters=   docker ps -a --filter label=L       [Client.ListContainers]
//	POST   /containers/create?name=NAME      docker create --name NAME IMAGE     [Client.CreateContainer]
//	POST   /containers/{ref}/start           docker start REF                    [Client.StartContainer]
//	POST   /containers/{ref}/stop?t=N        docker stop -t N REF                [Client.StopContainer]
//	DELETE /containers/{ref}?force=1&v=1     docker rm -f -v REF                 [Client.RemoveContainer]
//	GET    /images/{ref}/json                docker image inspect REF            [Client.ImageLabels]
//	GET    /images/json?filters=             docker images --filter label=L      [Client.ImageRefs]
//	POST   /images/create?fromSrc=-          docker import - REPO:TAG            [Client.ImportImage]
//	DELETE /images/{ref}                     docker rmi REF                      [Client.RemoveImage]
//	GET    /events?filters=&since=           docker events --since T             [Client.ContainerEvents]
//
// Errors callers branch on wrap [ErrNotFound], [ErrExists] or
// [ErrUnavailable]. This is a leaf package: it imports no other plumb package.
package docker
