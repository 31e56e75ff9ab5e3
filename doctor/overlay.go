package doctor

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/plumbnet/plumb/daemon"
	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/overlay"
)

// checkOverlay compares each overlay network with its data plane: the
// cluster agent runs (it keeps the network, its block and its remote
// endpoints true), the VXLAN device is there with the network's VNI, up,
// on the bridge, and every endpoint of another host that the agent
// recorded is programmed on it (FDB and neighbour entries). The agent owns
// all of it: doctor names what differs and how to bring the agent back; it
// repairs nothing itself. Equivalent to: `ip -d link show vx-…; bridge fdb
// show dev vx-…; ip neigh show dev vx-…; cat RUNDIR/agent.pid`.
func checkOverlay(ctx context.Context, d *Doctor) []*Finding {
	nets, _ := d.M.List()
	var ov []*network.Network
	for _, n := range nets {
		if n.Overlay() {
			ov = append(ov, n)
		}
	}
	if len(ov) == 0 {
		return nil
	}
	var out []*Finding
	if f := checkAgent(d.M.RunDirPath()); f != nil {
		out = append(out, f)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return append(out, &Finding{Check: "overlay-vxlan", Severity: Problem, Subject: "netlink",
			What: err.Error(), Means: "doctor cannot read the overlay networks' VXLAN devices", Fix: "see why a netlink socket cannot be opened"})
	}
	defer h.Close()
	for _, n := range ov {
		out = append(out, checkVXLAN(h, d.M, n)...)
	}
	return out
}

// checkAgent reports no live plumb-cluster agent behind RUNDIR/agent.pid.
func checkAgent(runDir string) *Finding {
	path := daemon.AgentPIDPath(runDir)
	b, err := os.ReadFile(path)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err == nil && perr == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
		return nil
	}
	return &Finding{Check: "cluster-agent", Severity: Problem, Subject: "plumb-cluster",
		What:  "no cluster agent runs (" + path + " names no live process)",
		Means: "the overlay networks here follow the store no more: new remote endpoints are not programmed, local attaches are not published, names of other hosts go stale",
		Fix:   "run the daemon with the store (`plumb daemon --store etcd://HOST:2379`, or PLUMB_STORE): it starts the agent and keeps it running"}
}

// checkVXLAN reports n's VXLAN device missing or drifted, and remote
// endpoints recorded but not programmed on it.
func checkVXLAN(h *netlink.Handle, m *network.Manager, n *network.Network) []*Finding {
	name := overlay.VXLANName(n.Name)
	subject := fmt.Sprintf("overlay network %s (%s)", n.Name, name)
	bad := func(what string) []*Finding {
		return []*Finding{{Check: "overlay-vxlan", Severity: Problem, Subject: subject, What: what,
			Means: "its endpoints here reach no endpoint on another host (nor they them)",
			Fix:   "the cluster agent makes it again at its next round; if it does not, see RUNDIR/agent.log"}}
	}
	link, err := h.LinkByName(name)
	if err != nil {
		return bad("its VXLAN device is missing")
	}
	vx, ok := link.(*netlink.Vxlan)
	switch {
	case !ok:
		return bad("the link " + name + " is not a VXLAN device")
	case uint32(vx.VxlanId) != n.VNI:
		return bad(fmt.Sprintf("its VXLAN device has VNI %d, want %d", vx.VxlanId, n.VNI))
	case vx.Attrs().Flags&net.FlagUp == 0:
		return bad("its VXLAN device is down")
	}
	if br, err := h.LinkByName(n.Bridge); err == nil && vx.Attrs().MasterIndex != br.Attrs().Index {
		return bad("its VXLAN device is not a port of bridge " + n.Bridge)
	}
	return checkRemotes(h, m, n, name, subject)
}

// checkRemotes reports remote endpoint records of n without their FDB and
// neighbour entries on dev.
func checkRemotes(h *netlink.Handle, m *network.Manager, n *network.Network, dev, subject string) []*Finding {
	recs, err := m.Remotes(n.Name)
	if err != nil || len(recs) == 0 {
		return nil
	}
	have, err := overlay.Remotes(h, dev)
	if err != nil {
		return nil
	}
	programmed := map[string]bool{}
	for _, r := range have {
		if r.IP.IsValid() && r.VTEP.IsValid() {
			programmed[r.IP.String()+" "+r.MAC.String()] = true
		}
	}
	var out []*Finding
	for _, r := range recs {
		if r.MAC == "" || programmed[r.IP.String()+" "+strings.ToLower(r.MAC)] {
			continue
		}
		out = append(out, &Finding{Check: "overlay-remote", Severity: Problem, Subject: subject,
			What:  fmt.Sprintf("endpoint %s on host %s (%s, %s) is not programmed on %s", r.ID, r.Host, r.IP, r.MAC, dev),
			Means: "endpoints here cannot reach it: no FDB entry sends its frames to its host, no neighbour entry answers for its address",
			Fix:   "the cluster agent programs it at its next round; if it does not, see RUNDIR/agent.log"})
	}
	return out
}
