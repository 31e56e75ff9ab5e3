package inspect

import (
	"context"
	"net/netip"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/nsview"
)

// Inspect resolves spec the way attach does and reads everything about
// the target's networking, through m for what plumb made. A spec that
// names no target is an error naming it; a section that cannot be read
// carries its error and the others are still filled. Nothing is changed.
func Inspect(ctx context.Context, m *network.Manager, spec string) (*Report, error) {
	t, eps, err := m.TargetEndpoints(ctx, spec)
	if err != nil {
		return nil, err
	}
	r := &Report{Target: targetOf(t), Attached: len(eps) > 0}
	ns := t.NetNSPath
	r.Namespace = namespace(ns)
	view, verr := nsview.Read(ns)
	r.Interfaces = interfaces(ns, view.Links, verr)
	r.Routes = Section[[]nsview.Route]{Items: view.Routes, Command: enter(ns, "ip route show table all") + "; " + enter(ns, "ip -6 route show table all"), Error: errText(verr)}
	r.Neighbours = Section[[]nsview.Neighbour]{Items: view.Neighbours, Command: enter(ns, "ip neigh"), Error: errText(verr)}
	socks, serr := nsview.Listening(ns)
	if r.Attached {
		daemonOwned(m, socks)
	}
	r.Listening = Section[[]nsview.Socket]{Items: socks, Command: enter(ns, "ss -tulnp"), Error: errText(serr)}
	r.ResolvConf = file(t, t.ResolvFile, "resolv.conf")
	r.Hosts = file(t, t.HostsFile, "hosts")
	r.Endpoints = endpoints(m, eps)
	r.DNS = dnsNames(m, ns, eps)
	r.Firewall = rules(m, eps)
	r.emptyNotNull()
	return r, nil
}

// emptyNotNull makes every list of the report a list in JSON, [] rather
// than null, so that scripts can iterate without a check.
func (r *Report) emptyNotNull() {
	orEmpty(&r.Namespace.Items.Processes)
	orEmpty(&r.Interfaces.Items)
	orEmpty(&r.Routes.Items)
	orEmpty(&r.Neighbours.Items)
	orEmpty(&r.Listening.Items)
	orEmpty(&r.Endpoints.Items)
	orEmpty(&r.DNS.Items)
	orEmpty(&r.Firewall.Items)
}

func orEmpty[T any](s *[]T) {
	if *s == nil {
		*s = []T{}
	}
}

func targetOf(t *container.Target) Target {
	return Target{Spec: t.Spec, Kind: string(t.Kind), PID: t.PID, ContainerID: t.ContainerID,
		ContainerName: t.ContainerName, Hostname: t.Hostname}
}

// namespace reads the namespace's inode and processes.
// Equivalent to: `lsns -t net -o NS,NPROCS,PID,COMMAND`.
func namespace(ns string) Section[Namespace] {
	s := Section[Namespace]{Items: Namespace{Path: ns},
		Command: "stat -L -c 'net:[%i]' " + ns + "; lsns -t net -o NS,NPROCS,PID,COMMAND"}
	ino, err := nsview.Inode(ns)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Items.Inode = ino
	procs, err := nsview.Processes(ns)
	s.Items.Processes, s.Error = procs, errText(err)
	return s
}

// enter is the command that runs cmd inside the namespace at ns.
func enter(ns, cmd string) string { return nsview.Enter(ns, cmd) }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// dnsAddr is the embedded DNS's address inside an attached target.
var dnsAddr = netip.MustParseAddr("127.0.0.11")

// daemonOwned names the plumb daemon as the owner of the 127.0.0.11:53
// sockets of an attached target: the daemon holds them from the host's
// namespace, so no process of the target's namespace has them open.
// Equivalent to: `cat RUNDIR/plumb.pid`.
func daemonOwned(m *network.Manager, socks []nsview.Socket) {
	pid, ok := control.Running(control.RunDir(m.StateDir, m.RunDir))
	if !ok {
		return
	}
	for i, s := range socks {
		if s.PID == 0 && s.Local.Addr() == dnsAddr && s.Local.Port() == 53 {
			socks[i].PID, socks[i].Command = pid, "plumb daemon"
		}
	}
}
