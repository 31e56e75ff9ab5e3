package network

import (
	"fmt"
	"net"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/script"
	"github.com/plumbnet/plumb/veth"
)

// scriptLinks is Links for a dry run: reads go to the real links, writes
// become `ip` and `sysctl` commands.
type scriptLinks struct {
	Links
	s *script.Script
	// made names the bridges this run records making, by the index it
	// gave them (negative: no real link has it), for AddVeth's master.
	made map[int]string
	// fresh is the path of the namespace of a target to be, whose inode
	// is freshInode (DryAttachNew); "" for none.
	fresh      string
	freshInode uint64
	// gone names the links this run records deleting: they exist no more
	// for its later steps.
	gone map[string]bool
}

func (l *scriptLinks) Exists(name string) bool { return !l.gone[name] && l.Links.Exists(name) }

// deleted notes that the script deletes link name.
func (l *scriptLinks) deleted(name string) {
	if l.gone == nil {
		l.gone = map[string]bool{}
	}
	l.gone[name] = true
}

// EnsureBridge records bridge.Ensure on a missing bridge (its commands,
// bridge.Ensure's doc); an existing one is checked, as Ensure would repair
// it, and its index returned.
func (l *scriptLinks) EnsureBridge(c bridge.Config) (int, error) {
	idx, err := l.Links.BridgeIndex(c.Name)
	if err == nil && l.Links.CheckBridge(c) == nil {
		return idx, nil
	}
	if err != nil && l.Links.Exists(c.Name) {
		return 0, err
	}
	if err != nil {
		l.s.Cmd("ip", "link", "add", c.Name, "address", bridge.MAC(c.Name).String(), "mtu", fmt.Sprint(c.MTU), "type", "bridge")
		if l.made == nil {
			l.made = map[int]string{}
		}
		idx = -1 - len(l.made)
		l.made[idx] = c.Name
	} else {
		l.s.Cmd("ip", "link", "set", c.Name, "mtu", fmt.Sprint(c.MTU))
	}
	l.s.Cmd("sysctl", "-qw", "net.ipv6.conf."+c.Name+".accept_ra=0")
	if c.RouteLocalnet {
		l.s.Cmd("sysctl", "-qw", "net.ipv4.conf."+c.Name+".route_localnet=1")
	}
	if c.Gateway.IsValid() {
		l.s.Cmd("ip", "addr", "replace", c.Gateway.String(), "dev", c.Name)
	}
	if c.Gateway6.IsValid() {
		l.s.Cmd("ip", "addr", "replace", c.Gateway6.String(), "dev", c.Name, "nodad")
	}
	l.s.Cmd("ip", "link", "set", c.Name, "up")
	return idx, nil
}

func (l *scriptLinks) DeleteBridge(name string) error {
	if l.gone[name] {
		return nil
	}
	if _, err := l.Links.BridgeIndex(name); err != nil {
		if l.Links.Exists(name) {
			return err // bridge.ErrNotBridge: someone else's link stays
		}
		return nil
	}
	l.s.Cmd("ip", "link", "del", name, "type", "bridge")
	l.deleted(name)
	return nil
}

func (l *scriptLinks) OpenNS(path string) (Namespace, error) {
	if path == l.fresh && path != "" {
		return &scriptNS{Namespace: newNS{inode: l.freshInode}, path: path, s: l.s}, nil
	}
	ns, err := l.Links.OpenNS(path)
	if err != nil {
		return nil, err
	}
	return &scriptNS{Namespace: ns, path: path, s: l.s}, nil
}

// AddVeth records veth.Create: the pair with its peer made in the
// namespace at its path, IPv6 off on the host end, the host end on the
// bridge and up.
func (l *scriptLinks) AddVeth(p veth.Pair, ns Namespace) error {
	args := []string{"ip", "link", "add", p.HostName, "mtu", fmt.Sprint(p.MTU), "type", "veth", "peer", "name", p.PeerName}
	if p.PeerMAC != nil {
		args = append(args, "address", p.PeerMAC.String())
	}
	args = append(args, "mtu", fmt.Sprint(p.MTU), "netns", ns.(*scriptNS).path)
	l.s.Cmd(args...)
	l.s.Cmd("sysctl", "-qw", "net.ipv6.conf."+p.HostName+".disable_ipv6=1", "net.ipv6.conf."+p.HostName+".accept_ra=0")
	if p.MasterIndex != 0 {
		br, err := l.bridgeName(p.MasterIndex)
		if err != nil {
			return err
		}
		l.s.Cmd("ip", "link", "set", p.HostName, "master", br)
	}
	l.s.Cmd("ip", "link", "set", p.HostName, "up")
	return nil
}

// bridgeName names the bridge of index idx, one this run made included.
func (l *scriptLinks) bridgeName(idx int) (string, error) {
	if name, ok := l.made[idx]; ok {
		return name, nil
	}
	br, err := net.InterfaceByIndex(idx)
	if err != nil {
		return "", fmt.Errorf("finding the bridge of index %d: %w", idx, err)
	}
	return br.Name, nil
}

func (l *scriptLinks) DeleteVeth(host string) error {
	if l.Exists(host) {
		l.s.Cmd("ip", "link", "del", host, "type", "veth")
		l.deleted(host)
	}
	return nil
}

// RetireVeth records what retiring and then reaping the pair comes to,
// `ip link del HOST` (the peer goes with it), and returns no Retired: there
// is nothing left for the daemon to reap.
func (l *scriptLinks) RetireVeth(host string, ns Namespace, peer string) (*veth.Retired, error) {
	return nil, l.DeleteVeth(host)
}

func (l *scriptLinks) DeleteRetired(r veth.Retired) error {
	l.s.Cmd("ip", "link", "del", r.Name)
	return nil
}

func (l *scriptLinks) IsolatePort(host string) error {
	l.s.Cmd("ip", "link", "set", host, "type", "bridge_slave", "isolated", "on")
	return nil
}

func (l *scriptLinks) SetHairpin(host string) error {
	l.s.Cmd("ip", "link", "set", host, "type", "bridge_slave", "hairpin", "on")
	return nil
}
