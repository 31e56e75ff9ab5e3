package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/plumbnet/plumb/dns"
)

// DaemonOptions configure RunDaemon.
type DaemonOptions struct {
	// Upstreams receive the queries for names that are not plumb's. Empty:
	// no forwarding (SERVFAIL for other names).
	Upstreams []netip.AddrPort
	// ExitWhenIdle stops the daemon once no network is left (set when an
	// attach started it, so nothing outlives plumb's last network).
	ExitWhenIdle bool
	// CheckEvery is how often namespaces are checked for having gone away;
	// zero: 2s.
	CheckEvery time.Duration
}

// daemon is plumb's name service: Docker's embedded DNS model. It keeps a
// listener at 127.0.0.11:53 (UDP and TCP) inside every attached namespace
// and one on each network's gateway address, answers the names of the
// client's networks from one table and forwards the rest from the host's
// namespace.
type daemon struct {
	m     *Manager
	opts  DaemonOptions
	table *dns.Table
	fwd   dns.Forwarder
	ctx   context.Context

	mu        sync.Mutex
	sandboxes map[uint64]*sandbox // by netns inode
	gateways  map[string]*gateway // by network name
	nets      map[string]*Network // configs, read once; refreshed by sync
	reaper    reaper              // deletes retired veths in the background

	ports *portHolder // published host ports, held for their endpoints
}

// sandbox is one attached namespace and its 127.0.0.11 listener. Its scope
// is the networks of its endpoints, first attached first.
type sandbox struct {
	ino    uint64
	eps    map[string]*Endpoint // by network
	scope  atomic.Pointer[dns.Scope]
	cancel context.CancelFunc
	done   chan struct{}
}

// gateway is the listener on one network's gateway address, for runtimes
// and CNI, answering only clients from that network's subnet.
type gateway struct {
	subnet netip.Prefix
	addr   netip.Addr
	cancel context.CancelFunc
	done   chan struct{}
}

// RunDaemon runs the name service until ctx ends (or, with ExitWhenIdle,
// until no network is left). Only one runs per run directory: a second one
// returns nil at once. At start it rebuilds every listener and every name
// from the state on disk, so a daemon killed and started again serves what
// it served before with no attach repeated.
func (m *Manager) RunDaemon(ctx context.Context, o DaemonOptions) error {
	if err := os.MkdirAll(m.runDir(), 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	lock, err := tryLock(filepath.Join(m.runDir(), "daemon.lock"))
	if err != nil {
		return err
	}
	if lock == nil {
		log.Printf("plumb daemon: another daemon runs for %s", m.runDir())
		return nil
	}
	defer lock.Close() // drops the flock
	if o.CheckEvery == 0 {
		o.CheckEvery = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &daemon{m: m, opts: o, table: dns.NewTable(), ctx: ctx,
		sandboxes: map[uint64]*sandbox{}, gateways: map[string]*gateway{}, nets: map[string]*Network{},
		ports: newPortHolder()}
	if len(o.Upstreams) > 0 {
		d.fwd = &dns.UpstreamForwarder{Servers: o.Upstreams}
	}
	d.sync()
	d.reaper.sweep()

	sock := m.socketPath()
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", sock, err)
	}
	os.Chmod(sock, 0o600)
	defer os.Remove(sock)
	pidFile := filepath.Join(m.runDir(), "plumb.pid")
	os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	defer os.Remove(pidFile)
	log.Printf("plumb daemon: serving %s (upstreams %v)", sock, o.Upstreams)

	go func() { <-ctx.Done(); ln.Close() }()
	go d.watch(cancel)
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		go d.serveControl(c)
	}
	d.closeAll()
	return nil
}

// tryLock takes path's flock without waiting; nil, nil when another holds it.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

func (d *daemon) serveControl(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var req daemonRequest
	var rep daemonReply
	var err error
	if err = json.NewDecoder(c).Decode(&req); err != nil {
		rep.Error = "bad request: " + err.Error()
	} else {
		switch req.Op {
		case "ping":
		case "up":
			if req.Endpoint == nil {
				rep.Error = "up: no endpoint"
			} else if err := d.up(req.Endpoint); err != nil {
				rep.Error = err.Error()
			}
		case "down":
			if req.Endpoint != nil {
				d.down(req.Endpoint)
			}
			if req.Reap != nil {
				if err := d.reaper.reap(req.Reap); err != nil {
					rep.Error = err.Error()
				}
			}
		case "sync":
			d.sync()
		case "records":
			rep.Records = d.records(req.Network)
		case "hold":
			if req.Endpoint == nil {
				rep.Error = "hold: no endpoint"
			} else if rep.Ports, err = d.ports.hold(portKey(req.Endpoint), req.Ports); err != nil {
				rep.Error = err.Error()
			}
		case "release":
			if req.Endpoint != nil {
				d.ports.release(portKey(req.Endpoint))
			}
		default:
			rep.Error = fmt.Sprintf("unknown op %q", req.Op)
		}
	}
	json.NewEncoder(c).Encode(rep)
}

// names are what ep answers to: container name, hostname, aliases, and the
// short container id, as Docker's embedded DNS does.
func dnsNames(ep *Endpoint) []string {
	names := ep.Names()
	if len(ep.ContainerID) >= 12 {
		names = append(names, ep.ContainerID[:12])
	}
	return names
}

// alive reports whether ep's namespace is still the one it was attached in.
func alive(ep *Endpoint) bool {
	var st unix.Stat_t
	return unix.Stat(ep.NetNS, &st) == nil && st.Ino == ep.NetNSInode
}

// up serves ep: its names in the table, a listener in its namespace, and
// its network's gateway listener. It is idempotent.
func (d *daemon) up(ep *Endpoint) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.network(ep.Network)
	if err != nil {
		return err
	}
	if ep.Kind == KindCNI {
		// The runtime's resolv.conf names the gateway listener (the CNI
		// result's dns): no listener inside the namespace. A gateway
		// listener that cannot be made is logged, as below.
		d.table.Set(ep.Network, ep.ID, dnsNames(ep), ep.IP.Addr(), netip.Addr{})
		if err := d.ensureGateway(n); err != nil {
			log.Printf("plumb daemon: %v", err)
		}
		return nil
	}
	sb := d.sandboxes[ep.NetNSInode]
	if sb == nil {
		if sb, err = d.openSandbox(ep); err != nil {
			return err
		}
		d.sandboxes[ep.NetNSInode] = sb
	}
	sb.eps[ep.Network] = ep
	d.rescope(sb)
	d.table.Set(ep.Network, ep.ID, dnsNames(ep), ep.IP.Addr(), netip.Addr{})
	if err := d.ensureGateway(n); err != nil {
		log.Printf("plumb daemon: %v", err)
	}
	return nil
}

// down forgets ep at once, and closes its namespace's listener when no
// endpoint is left there.
func (d *daemon) down(ep *Endpoint) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.table.Remove(ep.Network, ep.ID)
	if sb := d.sandboxes[ep.NetNSInode]; sb != nil {
		if cur := sb.eps[ep.Network]; cur != nil && cur.ID == ep.ID {
			delete(sb.eps, ep.Network)
		}
		if len(sb.eps) == 0 {
			d.closeSandbox(sb)
		} else {
			d.rescope(sb)
		}
	}
}

// network returns the config of name, read from disk the first time.
// Called with d.mu held.
func (d *daemon) network(name string) (*Network, error) {
	if n := d.nets[name]; n != nil {
		return n, nil
	}
	n, err := d.m.Get(name)
	if err != nil {
		return nil, err
	}
	d.nets[name] = n
	return n, nil
}

// rescope recomputes sb's scope: its networks, first attached first, and
// internal when every one of them is.
func (d *daemon) rescope(sb *sandbox) {
	eps := make([]*Endpoint, 0, len(sb.eps))
	for _, ep := range sb.eps {
		eps = append(eps, ep)
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Created.Before(eps[j].Created) })
	s := &dns.Scope{Internal: true}
	for _, ep := range eps {
		s.Networks = append(s.Networks, ep.Network)
		if n, err := d.network(ep.Network); err != nil || !n.Internal {
			s.Internal = false
		}
	}
	sb.scope.Store(s)
}

// openSandbox makes the UDP and TCP sockets at 127.0.0.11:53 inside ep's
// namespace (the thread enters it only to create them) and serves them
// from the host's namespace.
func (d *daemon) openSandbox(ep *Endpoint) (*sandbox, error) {
	if !alive(ep) {
		return nil, fmt.Errorf("namespace of %q is gone", ep.Target)
	}
	var pc net.PacketConn
	var ln net.Listener
	err := ns.WithNetNSPath(ep.NetNS, func(ns.NetNS) error {
		var err error
		if pc, err = net.ListenPacket("udp4", "127.0.0.11:53"); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", "127.0.0.11:53"); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.11:53 in the namespace of %q: %w", ep.Target, err)
	}
	ctx, cancel := context.WithCancel(d.ctx)
	sb := &sandbox{ino: ep.NetNSInode, eps: map[string]*Endpoint{}, cancel: cancel, done: make(chan struct{})}
	h := &dns.Handler{Table: d.table, Forwarder: d.fwd, ScopeOf: func(mdns.ResponseWriter) (dns.Scope, bool) {
		return *sb.scope.Load(), true
	}}
	go func() {
		defer close(sb.done)
		if err := dns.Serve(ctx, pc, ln, h); err != nil {
			log.Printf("plumb daemon: listener of %q: %v", ep.Target, err)
		}
	}()
	return sb, nil
}

func (d *daemon) closeSandbox(sb *sandbox) {
	sb.cancel()
	<-sb.done
	delete(d.sandboxes, sb.ino)
}

// ensureGateway serves DNS on n's gateway address, for clients of n's subnet.
func (d *daemon) ensureGateway(n *Network) error {
	if g := d.gateways[n.Name]; g != nil {
		if g.addr == n.Gateway && g.subnet == n.Subnet {
			return nil
		}
		g.cancel()
		<-g.done
	}
	addr := netip.AddrPortFrom(n.Gateway, 53).String()
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return fmt.Errorf("listening on %s for %q: %w", addr, n.Name, err)
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("listening on %s for %q: %w", addr, n.Name, err)
	}
	ctx, cancel := context.WithCancel(d.ctx)
	g := &gateway{subnet: n.Subnet, addr: n.Gateway, cancel: cancel, done: make(chan struct{})}
	scope := dns.Scope{Networks: []string{n.Name}, Internal: n.Internal}
	h := &dns.Handler{Table: d.table, Forwarder: d.fwd, ScopeOf: func(w mdns.ResponseWriter) (dns.Scope, bool) {
		ap, ok := dns.RemoteAddrPort(w)
		return scope, ok && g.subnet.Contains(ap.Addr().Unmap())
	}}
	go func() {
		defer close(g.done)
		if err := dns.Serve(ctx, pc, ln, h); err != nil {
			log.Printf("plumb daemon: gateway listener of %q: %v", n.Name, err)
		}
	}()
	d.gateways[n.Name] = g
	return nil
}

// sync makes the daemon serve exactly what the state on disk says: every
// endpoint whose namespace is alive, every network's gateway.
func (d *daemon) sync() int {
	nets, _ := d.m.List()
	want := map[string]bool{}
	var eps, withPorts []*Endpoint
	for _, n := range nets {
		want[n.Name] = true
		list, _ := d.m.Endpoints(n.Name)
		for _, ep := range list {
			if alive(ep) {
				eps = append(eps, ep)
			}
			if len(ep.Ports) > 0 {
				withPorts = append(withPorts, ep)
			}
		}
	}
	d.syncPorts(withPorts)
	d.mu.Lock()
	d.nets = map[string]*Network{}
	for _, n := range nets {
		d.nets[n.Name] = n
	}
	for name, g := range d.gateways {
		if !want[name] {
			g.cancel()
			<-g.done
			delete(d.gateways, name)
		}
	}
	for _, n := range nets {
		if err := d.ensureGateway(n); err != nil {
			log.Printf("plumb daemon: %v", err)
		}
	}
	live := map[string]bool{}
	for _, ep := range eps {
		live[ep.Network+"/"+ep.ID] = true
	}
	for _, sb := range d.sandboxes {
		for netName, ep := range sb.eps {
			if !live[netName+"/"+ep.ID] {
				d.table.Remove(netName, ep.ID)
				delete(sb.eps, netName)
			}
		}
		if len(sb.eps) == 0 {
			d.closeSandbox(sb)
		}
	}
	d.mu.Unlock()
	for _, ep := range eps {
		if err := d.up(ep); err != nil {
			log.Printf("plumb daemon: %v", err)
		}
	}
	return len(nets)
}

// watch closes the listeners of namespaces that went away (their
// container stopped, their netns was deleted), and with ExitWhenIdle stops
// the daemon once no network is left.
func (d *daemon) watch(stop context.CancelFunc) {
	t := time.NewTicker(d.opts.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		for _, sb := range d.sandboxes {
			for netName, ep := range sb.eps {
				if !alive(ep) {
					d.table.Remove(netName, ep.ID)
					delete(sb.eps, netName)
				}
			}
			if len(sb.eps) == 0 {
				d.closeSandbox(sb)
			}
		}
		d.mu.Unlock()
		if d.opts.ExitWhenIdle {
			if names, err := d.m.networkNames(); err == nil && len(names) == 0 {
				log.Printf("plumb daemon: no network left, exiting")
				stop()
				return
			}
		}
	}
}

func (d *daemon) records(netName string) []DNSRecord {
	nets := []string{netName}
	if netName == "" {
		nets = d.table.Networks()
	}
	var out []DNSRecord
	for _, n := range nets {
		for _, r := range d.table.Records(n) {
			out = append(out, DNSRecord{Network: r.Network, Name: r.Name, IP: r.IPv4.String(), Endpoint: r.EndpointID})
		}
	}
	return out
}

func (d *daemon) closeAll() {
	defer d.reaper.wait()
	d.ports.closeAll()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, sb := range d.sandboxes {
		d.closeSandbox(sb)
	}
	for name, g := range d.gateways {
		g.cancel()
		<-g.done
		delete(d.gateways, name)
	}
}
