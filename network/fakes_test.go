package network

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/plumbnet/plumb/bridge"
	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/portmap"
	"github.com/plumbnet/plumb/veth"
	"golang.org/x/sys/unix"
)

// The fakes behind network's narrow interfaces, for unit tests of the
// orchestration without root: links in maps, a daemon that records names
// and held ports, targets whose files are temp files. Each has a String
// that dumps its whole state, so that a test compares "before" and "after".

// fakeLinks is an in-memory Links.
type fakeLinks struct {
	mu       sync.Mutex
	bridges  map[string]bridge.Config
	veths    map[string]*fakeVeth // by host name
	nss      map[string]*fakeNS   // by path
	isolated map[string]bool
	hairpin  map[string]bool
	nextIdx  int
	// guarded, when set, reports whether a bridge name has its localnet
	// guard: EnsureBridge refuses to turn route_localnet on without it.
	guarded func(bridge string) bool
	// failDelete makes DeleteBridge of these names fail.
	failDelete map[string]bool
}

type fakeVeth struct {
	peer   string
	ns     *fakeNS
	bridge string
	up     bool
}

type fakeNS struct {
	path   string
	ino    uint64
	links  map[string]bool
	addrs  map[string]netip.Prefix // by link
	routes map[string]netip.Addr   // default route's gateway, by link
}

func newFakeLinks() *fakeLinks {
	return &fakeLinks{bridges: map[string]bridge.Config{}, veths: map[string]*fakeVeth{},
		nss: map[string]*fakeNS{}, isolated: map[string]bool{}, hairpin: map[string]bool{}, nextIdx: 100}
}

// addNS makes a namespace the fake knows at path, with lo.
func (f *fakeLinks) addNS(path string, ino uint64) *fakeNS {
	f.mu.Lock()
	defer f.mu.Unlock()
	ns := &fakeNS{path: path, ino: ino, links: map[string]bool{"lo": true}, addrs: map[string]netip.Prefix{}, routes: map[string]netip.Addr{}}
	f.nss[path] = ns
	return ns
}

func (f *fakeLinks) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name, c := range f.bridges {
		out = append(out, fmt.Sprintf("bridge %s %s mtu %d", name, c.Gateway, c.MTU))
	}
	for name, v := range f.veths {
		out = append(out, fmt.Sprintf("veth %s peer %s on %s up %v isolated %v hairpin %v", name, v.peer, v.bridge, v.up, f.isolated[name], f.hairpin[name]))
	}
	for _, ns := range f.nss {
		for l := range ns.links {
			out = append(out, fmt.Sprintf("ns %s link %s addr %s route %s", ns.path, l, ns.addrs[l], ns.routes[l]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func (f *fakeLinks) EnsureBridge(c bridge.Config) (int, error) {
	if c.RouteLocalnet && f.guarded != nil && !f.guarded(c.Name) {
		return 0, fmt.Errorf("bridge %q: route_localnet on without its localnet guard", c.Name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.veths[c.Name]; ok {
		return 0, fmt.Errorf("interface %q %w", c.Name, bridge.ErrNotBridge)
	}
	f.bridges[c.Name] = c
	return 1, nil
}

// routeLocalnet reports whether bridge name exists with route_localnet on.
func (f *fakeLinks) routeLocalnet(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.bridges[name]
	return ok && c.RouteLocalnet
}

func (f *fakeLinks) BridgeIndex(name string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.bridges[name]; !ok {
		return 0, fmt.Errorf("bridge %q: not found", name)
	}
	return 1, nil
}

func (f *fakeLinks) DeleteBridge(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDelete[name] {
		return fmt.Errorf("deleting bridge %q: injected failure", name)
	}
	delete(f.bridges, name)
	return nil
}

func (f *fakeLinks) Exists(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, b := f.bridges[name]
	_, v := f.veths[name]
	return b || v
}

func (f *fakeLinks) HostPrefixes() ([]netip.Prefix, error) {
	return []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, nil
}

func (f *fakeLinks) DefaultMTU() int { return 1500 }

func (f *fakeLinks) OpenNS(path string) (Namespace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ns := f.nss[path]
	if ns == nil {
		return nil, fmt.Errorf("netns %s: %w", path, os.ErrNotExist)
	}
	return &fakeNSHandle{f: f, ns: ns}, nil
}

func (f *fakeLinks) AddVeth(p veth.Pair, ns Namespace) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := ns.(*fakeNSHandle).ns
	if _, ok := f.veths[p.HostName]; ok {
		return fmt.Errorf("creating veth %q: file exists", p.HostName)
	}
	if n.links[p.PeerName] {
		return fmt.Errorf("creating veth %q (peer %q): file exists", p.HostName, p.PeerName)
	}
	br := ""
	for name := range f.bridges {
		br = name // the fake has one bridge per test
	}
	f.veths[p.HostName] = &fakeVeth{peer: p.PeerName, ns: n, bridge: br, up: true}
	n.links[p.PeerName] = true
	return nil
}

func (f *fakeLinks) DeleteVeth(host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteLocked(host)
	return nil
}

func (f *fakeLinks) deleteLocked(host string) {
	v := f.veths[host]
	if v == nil {
		return
	}
	delete(v.ns.links, v.peer)
	delete(v.ns.addrs, v.peer)
	delete(v.ns.routes, v.peer)
	delete(f.veths, host)
	delete(f.isolated, host)
	delete(f.hairpin, host)
}

func (f *fakeLinks) RetireVeth(host string, ns Namespace, peer string) (*veth.Retired, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.veths[host]
	if v == nil {
		return nil, nil
	}
	f.nextIdx++
	r := &veth.Retired{Name: veth.RetiredName(f.nextIdx), Index: f.nextIdx}
	delete(f.veths, host)
	v.up = false
	f.veths[r.Name] = v
	return r, nil
}

func (f *fakeLinks) DeleteRetired(r veth.Retired) error { return f.DeleteVeth(r.Name) }

// sweepRetired deletes every retired pair, as the daemon does at start.
func (f *fakeLinks) sweepRetired() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name := range f.veths {
		if strings.HasPrefix(name, veth.RetiredPrefix) {
			f.deleteLocked(name)
		}
	}
}

func (f *fakeLinks) IsolatePort(host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.isolated[host] = true
	return nil
}

func (f *fakeLinks) SetHairpin(host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hairpin[host] = true
	return nil
}

func (f *fakeLinks) CheckBridge(c bridge.Config) error {
	if _, err := f.BridgeIndex(c.Name); err != nil {
		return err
	}
	return nil
}

func (f *fakeLinks) CheckVeth(name, br string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.veths[name]; v == nil || v.bridge != br || !v.up {
		return fmt.Errorf("host veth %q is missing, off bridge %q or down", name, br)
	}
	return nil
}

func (f *fakeLinks) BridgePorts(br string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name, v := range f.veths {
		if v.bridge == br {
			out = append(out, name)
		}
	}
	return out, nil
}

// fakeNSHandle is an open fakeNS.
type fakeNSHandle struct {
	f  *fakeLinks
	ns *fakeNS
}

func (h *fakeNSHandle) Inode() uint64           { return h.ns.ino }
func (h *fakeNSHandle) Cookie() (uint64, error) { return h.ns.ino + 1000, nil }
func (h *fakeNSHandle) Close() error            { return nil }

func (h *fakeNSHandle) Inspect() (veth.Inside, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	in := veth.Inside{Names: map[string]bool{}}
	for l := range h.ns.links {
		in.Names[l] = true
	}
	in.DefaultRoute = len(h.ns.routes) > 0
	return in, nil
}

func (h *fakeNSHandle) Configure(p veth.Peer) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if !h.ns.links[p.Name] {
		return fmt.Errorf("finding %q in the namespace: not found", p.Name)
	}
	h.ns.addrs[p.Name] = p.Addr
	if p.Gateway.IsValid() {
		h.ns.routes[p.Name] = p.Gateway
	}
	return nil
}

func (h *fakeNSHandle) CheckPeer(want veth.PeerCheck) error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	if !h.ns.links[want.Name] {
		return fmt.Errorf("interface %q is missing", want.Name)
	}
	for _, a := range want.Addrs {
		if h.ns.addrs[want.Name] != a {
			return fmt.Errorf("address %s is missing", a)
		}
	}
	return nil
}

// fakeDaemon is an in-memory Daemon: the names it serves and the ports it
// holds, by endpoint key.
type fakeDaemon struct {
	m         *Manager // whose records Up reads, as the daemon does
	mu        sync.Mutex
	listening map[string]uint64 // endpoint key -> its namespace's cookie
	up        map[string]bool
	held      map[string][]portmap.Mapping
	reaped    int
	links     *fakeLinks // where Reap deletes
	next      uint16
}

func newFakeDaemon(l *fakeLinks) *fakeDaemon {
	return &fakeDaemon{up: map[string]bool{}, listening: map[string]uint64{}, held: map[string][]portmap.Mapping{}, links: l, next: 40000}
}

func (d *fakeDaemon) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for k := range d.up {
		out = append(out, "names "+k)
	}
	for k, ps := range d.held {
		out = append(out, fmt.Sprintf("held %s %v", k, ps))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func (d *fakeDaemon) Up(network, id string) error {
	ep, err := d.m.Endpoint(network, id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.up[control.Key(network, id)] = true
	if ep.Kind != KindCNI {
		d.listening[control.Key(network, id)] = ep.NetNSCookie
	}
	return nil
}

func (d *fakeDaemon) Down(network, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.up, control.Key(network, id))
	delete(d.listening, control.Key(network, id))
	return nil
}

func (d *fakeDaemon) Reap(r control.Reap) error {
	d.mu.Lock()
	d.reaped++
	d.mu.Unlock()
	return d.links.DeleteVeth(r.Name)
}

func (d *fakeDaemon) Hold(network, id string, reqs []portmap.Request) ([]portmap.Mapping, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []portmap.Mapping
	for _, r := range reqs {
		hp := r.HostPort
		if hp == 0 {
			d.next++
			hp = d.next
		}
		for k, ps := range d.held {
			for _, p := range ps {
				if p.HostPort == hp && p.Proto == r.Proto && k != control.Key(network, id) {
					return nil, fmt.Errorf("publishing 0.0.0.0:%d/%s: %w", hp, r.Proto, portmap.ErrInUse)
				}
			}
		}
		out = append(out, portmap.Mapping{Proto: r.Proto, HostIP: r.HostIP, HostPort: hp, Port: r.Port})
	}
	d.held[control.Key(network, id)] = out
	return out, nil
}

func (d *fakeDaemon) Release(network, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.held, control.Key(network, id))
	return nil
}

func (d *fakeDaemon) Sync() error { return nil }

func (d *fakeDaemon) Remotes(string) error { return nil }
func (d *fakeDaemon) Start() error         { return nil }

func (d *fakeDaemon) Records(network string) ([]control.Record, error) { return nil, nil }

// Listeners: the fake serves every endpoint it was told of in the
// namespace the test made for it (fakeNS cookies are ino+1000).
func (d *fakeDaemon) Listeners() (control.Listening, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := control.Listening{Namespaces: map[uint64]bool{}, NoRoute: map[string]bool{}}
	for key, id := range d.listening {
		out.Namespaces[id] = true
		// As the daemon reads routes on its own socket in the namespace.
		netName, epID, _ := strings.Cut(key, "/")
		ep, err := d.m.Endpoint(netName, epID)
		n, nerr := d.m.Get(netName)
		if err != nil || nerr != nil || !ep.DefaultRoute {
			continue
		}
		if ns, err := d.links.OpenNS(ep.NetNS); err != nil {
			out.NoRoute[key] = true
		} else if ok, _ := ns.HasRoute(veth.Route{Gateway: n.Gateway}); !ok {
			out.NoRoute[key] = true
		}
	}
	return out, nil
}

// fakeTargets resolves the specs it was given.
type fakeTargets map[string]*container.Target

func (f fakeTargets) Resolve(_ context.Context, spec string) (*container.Target, error) {
	if t := f[spec]; t != nil {
		c := *t
		c.Spec = spec
		return &c, nil
	}
	return nil, fmt.Errorf("target %q %w", spec, container.ErrNotFound)
}

// tempFile is a container.File over a plain file.
type tempFile struct{ path string }

func (f *tempFile) Path() string          { return f.path }
func (f *tempFile) Created() bool         { return false }
func (f *tempFile) Remove() error         { return nil }
func (f *tempFile) Read() ([]byte, error) { return os.ReadFile(f.path) }

func (f *tempFile) Update(fn func([]byte) ([]byte, error)) error {
	old, err := os.ReadFile(f.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b, err := fn(old)
	if err != nil {
		return err
	}
	return os.WriteFile(f.path, b, 0o644)
}

// world is one test's Manager over fakes, and what it can dump.
type world struct {
	t       *testing.T
	m       *Manager
	links   *fakeLinks
	fw      *firewall.Fake
	d       *fakeDaemon
	targets fakeTargets
}

func newWorld(t *testing.T) *world {
	t.Helper()
	l := newFakeLinks()
	w := &world{t: t, links: l, fw: firewall.NewFake(), d: newFakeDaemon(l), targets: fakeTargets{}}
	w.m = &Manager{StateDir: t.TempDir(), Links: w.links, Firewall: w.fw, Daemon: w.d, Targets: w.targets}
	w.d.m = w.m
	// The guard comes before route_localnet and goes after it, as on the
	// kernel (firewall.LocalnetGuard).
	l.guarded = func(br string) bool { return slices.Contains(w.fw.Guarded(), br) }
	w.fw.RouteLocalnet = l.routeLocalnet
	return w
}

// target makes a target spec whose namespace the fake links know, with
// hosts and resolv.conf files in a temp dir.
func (w *world) target(spec string, ino uint64) *container.Target {
	dir := w.t.TempDir()
	path := filepath.Join(dir, "netns")
	// A real file, so that Endpoint.Alive (a stat) sees it: the fake
	// namespace's inode is that file's.
	os.WriteFile(path, nil, 0o644)
	var st unix.Stat_t
	unix.Stat(path, &st)
	ino = st.Ino
	w.links.addNS(path, ino)
	hosts := &tempFile{filepath.Join(dir, "hosts")}
	resolv := &tempFile{filepath.Join(dir, "resolv.conf")}
	os.WriteFile(hosts.path, []byte("127.0.0.1 localhost\n"), 0o644)
	os.WriteFile(resolv.path, []byte("nameserver 192.0.2.53\n"), 0o644)
	t := &container.Target{Kind: container.KindDocker, NetNSPath: path, ContainerName: spec, Hostname: spec,
		HostsFile: hosts, ResolvFile: resolv, Key: fmt.Sprintf("ns-1-%d", ino)}
	w.targets[spec] = t
	return t
}

// dump is everything the world holds: links, rules, names, held ports,
// state files (lock files aside) and the targets' files.
func (w *world) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "links:\n%s\nfirewall:\n%s\ndaemon:\n%s\nstate:\n", w.links, w.fw, w.d)
	filepath.Walk(w.m.StateDir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.HasSuffix(p, "lock") && filepath.Base(p) != "last_reserved_ip" {
			rel, _ := filepath.Rel(w.m.StateDir, p)
			b.WriteString(rel + "\n")
		}
		return nil
	})
	var specs []string
	for s := range w.targets {
		specs = append(specs, s)
	}
	sort.Strings(specs)
	for _, s := range specs {
		t := w.targets[s]
		for _, f := range []container.File{t.HostsFile, t.ResolvFile} {
			c, _ := os.ReadFile(f.Path())
			fmt.Fprintf(&b, "%s %s:\n%s", s, filepath.Base(f.Path()), c)
		}
	}
	return b.String()
}

// idx is the fake's interface index of a link name.
func idx(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()&0xffff) + 2
}

func (f *fakeLinks) HostLinks() (map[string]veth.HostEnd, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]veth.HostEnd{}
	for name := range f.bridges {
		out[name] = veth.HostEnd{Name: name, Index: idx(name), Up: true, PeerNSID: -1}
	}
	for name, v := range f.veths {
		out[name] = veth.HostEnd{Name: name, Index: idx(name), MasterIndex: idx(v.bridge), Up: v.up, Carrier: v.up, Veth: true,
			PeerIndex: idx(v.peer), PeerNSID: int(v.ns.ino)}
	}
	return out, nil
}

func (f *fakeLinks) NewSurvey() (Survey, error) { return fakeSurvey{f}, nil }

// fakeSurvey reads the fake's namespaces.
type fakeSurvey struct{ f *fakeLinks }

func (s fakeSurvey) Close() {}

func (s fakeSurvey) NSID(path string) (int, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	ns := s.f.nss[path]
	if ns == nil {
		return -1, fmt.Errorf("netns %s: %w", path, os.ErrNotExist)
	}
	return int(ns.ino), nil
}

func (s fakeSurvey) PeerAddrs(nsid, index int) ([]netip.Prefix, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	for _, ns := range s.f.nss {
		if int(ns.ino) != nsid {
			continue
		}
		for l := range ns.links {
			if a, ok := ns.addrs[l]; ok && idx(l) == index {
				return []netip.Prefix{a}, nil
			}
		}
	}
	return nil, nil
}

func (s fakeSurvey) HasRoute(path string, r veth.Route) (bool, error) {
	ns, err := s.f.OpenNS(path)
	if err != nil {
		return false, err
	}
	return ns.HasRoute(r)
}

func (h *fakeNSHandle) HasRoute(r veth.Route) (bool, error) {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	for _, gw := range h.ns.routes {
		if gw == r.Gateway {
			return true, nil
		}
	}
	return false, nil
}
