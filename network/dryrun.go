package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/firewall/nftables"
	"github.com/plumbnet/plumb/ipam"
	"github.com/plumbnet/plumb/script"
	"github.com/plumbnet/plumb/veth"
)

// A dry run (Manager.DryRun set) runs the very step lists of Create,
// Remove, Attach and Detach against recording implementations of the
// interfaces they go through: scriptLinks and scriptNS (links, the peer's
// settings), iptables.NewScript (the rules, rendered by the backend's own
// planner), nftables.ScriptGuard (the localnet guard), scriptDaemon (the
// daemon's parts, as comments), scriptStore (the address files) and
// scriptFile (a target's hosts and resolv.conf). Each reads the real state,
// so the names, subnet and addresses printed are those a real run would
// pick now, and appends a shell command where the real one would write;
// then serves the run's later reads as that write would leave them (the
// firewall's and the guard's copies, scriptLinks' deleted links,
// scriptFile's content, dryState for the state directory and the host),
// so that every step is planned from what the earlier ones did. No undo
// of a failed dry run writes either.
// The state directory's own files are the few branches on m.dry() in the
// steps. The recorders live here, not in a package of their own, because
// Links, Namespace and Daemon are network's interfaces and the state-file
// branches need the steps' internals; the one leaf they share is script.

// dry reports whether m changes nothing and records what it would do.
func (m *Manager) dry() bool { return m.DryRun != nil }

// initDry wraps the dependencies of a dry run in their recorders.
func (m *Manager) initDry() {
	s := m.DryRun
	m.Links = &scriptLinks{Links: m.Links, s: s}
	m.Daemon = scriptDaemon{d: m.Daemon, s: s}
	m.Targets = scriptTargets{Targets: m.Targets, m: m}
	m.dryst.guard = &nftables.ScriptGuard{Out: s}
}

// dryJSON records writing v to path as plumb does: indented, one newline.
func (m *Manager) dryJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	m.DryRun.File(path, append(b, '\n'), 0o644)
	return nil
}

// dryWriteState records writeState: the network's directory, its address
// store and network.json (written in place, not made aside and renamed).
func (c *createOp) dryWriteState() error {
	dir := c.m.netDir(c.n.Name)
	c.m.dryWritten(dir)
	mk := []string{"mkdir", "-p", filepath.Join(dir, "endpoints"), filepath.Join(dir, "ips")}
	if c.n.IPv6() {
		mk = append(mk, filepath.Join(ipam.Dir6(dir), "ips"))
	}
	c.m.DryRun.Cmd(mk...)
	return c.m.dryJSON(filepath.Join(dir, "network.json"), c.n)
}

// dryIPForward records turning forwarding on for the families asked
// (v4: ip_forward, v6: net.ipv6.conf.all.forwarding), when it is off now.
func (m *Manager) dryIPForward(v4, v6 bool) error {
	hs := m.readHostState()
	if hs == nil {
		hs = &hostState{}
	}
	before := *hs
	if v4 && m.ipForward() != "1" {
		m.DryRun.Cmd("sysctl", "-w", "net.ipv4.ip_forward=1")
		m.dryst.forward = "1"
		hs.IPForwardChanged = true
	}
	if v6 && m.ip6Forward() != "1" {
		m.DryRun.Cmd("sysctl", "-w", "net.ipv6.conf.all.forwarding=1")
		m.dryst.forward6 = "1"
		hs.IP6ForwardChanged = true
	}
	if *hs == before {
		return nil
	}
	return m.dryHostState(hs)
}

// dryFlushUDP records flushing the conntrack entries of the UDP ports.
// Equivalent to firewall.FlushUDP.
func (m *Manager) dryFlushUDP(ports []firewall.Port) {
	for _, p := range ports {
		if p.Proto == "udp" {
			m.DryRun.Cmd("conntrack", "-D", "-p", "udp", "--orig-port-dst", fmt.Sprint(p.HostPort))
		}
	}
}

// scriptNS is an open namespace for a dry run: it reads the real one and
// records the peer's settings as commands run in it by its path.
type scriptNS struct {
	Namespace
	path string
	s    *script.Script
}

// Configure records veth.Configure, inside the namespace.
func (n *scriptNS) Configure(p veth.Peer) error {
	in := []string{"nsenter", "--net=" + n.path}
	if p.Addr6.IsValid() {
		n.s.Cmd(append(in, "sysctl", "-qw", "net.ipv6.conf."+p.Name+".accept_ra=0", "net.ipv6.conf."+p.Name+".disable_ipv6=0")...)
	}
	n.s.Cmd(append(in, "ip", "link", "set", p.Name, "addrgenmode", "none")...)
	if p.Addr.IsValid() {
		n.s.Cmd(append(in, "ip", "addr", "add", p.Addr.String(), "dev", p.Name)...)
	}
	if p.Addr6.IsValid() {
		n.s.Cmd(append(in, "ip", "addr", "add", p.Addr6.String(), "dev", p.Name, "nodad")...)
	}
	n.s.Cmd(append(in, "ip", "link", "set", p.Name, "up")...)
	if p.Gateway.IsValid() {
		n.s.Cmd(append(in, "ip", "route", "add", "default", "via", p.Gateway.String(), "dev", p.Name)...)
	}
	if p.Gateway6.IsValid() {
		n.s.Cmd(append(in, "ip", "-6", "route", "add", "default", "via", p.Gateway6.String(), "dev", p.Name)...)
	}
	n.s.Cmd(append(in, "ip", "link", "set", "lo", "up")...)
	return nil
}

// scriptStore is an address store for a dry run: reads go to the disk
// store, a reservation or release becomes a command. Its lock is none: a
// dry run creates no lock file.
type scriptStore struct {
	*ipam.DiskStore
	s *script.Script
}

func (st *scriptStore) Lock() error   { return nil }
func (st *scriptStore) Unlock() error { return nil }

func (st *scriptStore) Reserve(id string, ip netip.Addr) (bool, error) {
	if _, ok, err := st.Owner(ip); err != nil || ok {
		return false, err
	}
	st.s.File(filepath.Join(st.Dir, "ips", ip.String()), []byte(id), 0o644)
	return true, nil
}

func (st *scriptStore) Release(ip netip.Addr) error {
	if _, ok, err := st.Owner(ip); err == nil && ok {
		st.s.Cmd("rm", "-f", filepath.Join(st.Dir, "ips", ip.String()))
	}
	return nil
}

func (st *scriptStore) SetLastReserved(ip netip.Addr) error {
	st.s.File(filepath.Join(st.Dir, "last_reserved_ip"), []byte(ip.String()), 0o644)
	return nil
}

// dryRemoveState records the end of Remove: the state directory goes,
// the daemon re-reads, and when no other network is left (as the script
// leaves them) what plumb changed on the host is put back (restoreHost).
func (m *Manager) dryRemoveState(name string) error {
	m.DryRun.Cmd("rm", "-rf", m.netDir(name))
	m.dryRemoved(m.netDir(name))
	m.daemon().Sync()
	names, err := m.networkNames()
	if err != nil || len(names) > 0 {
		return err
	}
	if err := m.removeFirewallRecord(); err != nil {
		return err
	}
	hs := m.readHostState()
	if hs == nil {
		return nil
	}
	if hs.IPForwardChanged && !m.links().Exists(dockerBridge) {
		m.DryRun.Cmd("sysctl", "-w", "net.ipv4.ip_forward=0")
		m.dryst.forward = "0"
	}
	if hs.IP6ForwardChanged && !m.links().Exists(dockerBridge) {
		m.DryRun.Cmd("sysctl", "-w", "net.ipv6.conf.all.forwarding=0")
		m.dryst.forward6 = "0"
	}
	return m.dryHostState(nil)
}
