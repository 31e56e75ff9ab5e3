package network

import (
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"

	"github.com/plumbnet/plumb/daemon/control"
	"github.com/plumbnet/plumb/firewall"
	"github.com/plumbnet/plumb/veth"
)

// The states of an endpoint, from kernel facts (Health).
const (
	StateUp     = "up"     // whole
	StateDown   = "down"   // whole, but a link of it is administratively down
	StateBroken = "broken" // something of it is missing: Reason says what
	StateStale  = "stale"  // its namespace is gone
)

// Health is what the kernel says of one endpoint: its State, and for any
// other than up what is down or missing, or why it is stale.
type Health struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// DaemonSilent: the daemon runs but did not answer, so the endpoint's
	// names are not served and what it serves could not be read.
	DaemonSilent bool `json:"-"`
	// Damage says which parts are missing or down, for a repair to pick
	// its means.
	Damage Damage `json:"-"`
}

// Damage is a set of the parts of an endpoint that are not whole.
type Damage uint8

const (
	// DamageNetwork: its network's bridge or rules (RestoreNetwork).
	DamageNetwork Damage = 1 << iota
	// DamageLinks: its veth pair, its address or its route (Repair).
	DamageLinks
	// DamagePorts: its published ports' rules (RestoreRules).
	DamagePorts
	// DamageNames: its 127.0.0.11 listener (the daemon's own).
	DamageNames
)

// Health tells the state of each endpoint of eps (in order) from kernel
// facts, and changes nothing. An endpoint is up when its host veth is up
// on its network's bridge, its peer is up in the very namespace it was
// attached in with its address and its default route, its network's rules
// and its published ports' rules are in place, and its names are served
// at 127.0.0.11 in its namespace. It reads the host's links once, the
// firewall once, asks the daemon once, reads each namespace's links and
// addresses without entering it, and enters it only to read its routes.
// Equivalent to: `ip -d link; ip -n NS link; ip -n NS addr; ip -n NS
// route; iptables-save` and reading them.
func (m *Manager) Health(eps []*Endpoint) []Health {
	var names []string
	for _, ep := range eps {
		names = append(names, ep.Network)
	}
	return m.newSurvey(names).check(eps)
}

// EndpointsHealth is AllEndpoints(netName) with each endpoint's Health:
// what the survey reads once for all (the host's links, the firewall, the
// daemon) is read while the records are.
func (m *Manager) EndpointsHealth(netName string) ([]*Endpoint, []Health, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.NumCPU()))
	names := []string{netName}
	if netName == "" {
		names, _ = m.networkNames()
	}
	sc := make(chan *survey, 1)
	go func() { sc <- m.newSurvey(names) }()
	eps, err := m.AllEndpoints(netName)
	s := <-sc
	if err != nil {
		return nil, nil, err
	}
	return eps, s.check(eps), nil
}

// check is the state of each endpoint of eps, in order. The checks wait
// on the kernel more than they compute: a few run at once.
func (s *survey) check(eps []*Endpoint) []Health {
	out := make([]Health, len(eps))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(len(eps), 2*runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv, err := s.m.links().NewSurvey()
			for i := range work {
				if err != nil {
					out[i] = Health{State: StateBroken, Reason: "namespaces unreadable: " + err.Error()}
					continue
				}
				out[i] = s.health(sv, eps[i])
			}
			if err == nil {
				sv.Close()
			}
		}()
	}
	for i := range eps {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

// survey is what Health reads once for all endpoints.
type survey struct {
	m         *Manager
	nets      map[string]*Network
	host      map[string]veth.HostEnd
	hostErr   error
	fw        firewall.Checker
	fwErr     error
	listening control.Listening // the daemon's listeners; nil maps when it is not running
	silent    bool              // the daemon runs and did not answer
	netRules  map[string]error  // each network's rules, checked once
}

// newSurvey reads, for the networks named, what every endpoint's check
// needs: their configs, the host's links, the firewall's rules, the
// daemon's listeners. With no network it reads nothing else.
func (m *Manager) newSurvey(names []string) *survey {
	s := &survey{m: m, nets: map[string]*Network{}, netRules: map[string]error{}}
	for _, name := range names {
		if _, ok := s.nets[name]; !ok {
			n, _ := m.Get(name)
			s.nets[name] = n
		}
	}
	if len(s.nets) == 0 {
		return s
	}
	// Three reads from three parties (the kernel, iptables-save, the
	// daemon): at once.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.host, s.hostErr = m.links().HostLinks()
	}()
	go func() {
		defer wg.Done()
		if !m.NoDNS {
			var err error
			s.listening, err = m.daemon().Listeners()
			s.silent = err != nil && !errors.Is(err, ErrDaemonNotRunning)
		}
	}()
	s.fw, s.fwErr = m.snapshot()
	var nets []*Network
	for _, n := range s.nets {
		if n != nil {
			nets = append(nets, n)
		}
	}
	s.netRules = m.checkRules(nets, s.fw, s.fwErr)
	wg.Wait()
	return s
}

// verdict gathers what one endpoint's check finds missing or down.
type verdict struct {
	down, missing []string
	damage        Damage
}

func (v *verdict) miss(part Damage, what string) {
	v.missing = append(v.missing, what)
	v.damage |= part
}
func (v *verdict) off(part Damage, what string) { v.down = append(v.down, what); v.damage |= part }

// health is what v found, as a Health.
func (v *verdict) health(silent bool) Health {
	h := Health{State: StateUp, Damage: v.damage}
	switch {
	case len(v.missing) > 0 && len(v.down) > 0:
		h.State, h.Reason, h.DaemonSilent = StateBroken, "missing: "+strings.Join(v.missing, ", ")+"; down: "+strings.Join(v.down, ", "), silent
	case len(v.missing) > 0:
		h.State, h.Reason, h.DaemonSilent = StateBroken, "missing: "+strings.Join(v.missing, ", "), silent
	case len(v.down) > 0:
		h.State, h.Reason = StateDown, "down: "+strings.Join(v.down, ", ")
	}
	return h
}

// health is one endpoint's state.
func (s *survey) health(sv Survey, ep *Endpoint) Health {
	var v verdict
	n := s.nets[ep.Network]
	if n == nil {
		return Health{State: StateBroken, Reason: "network config unreadable", Damage: DamageNetwork}
	}
	if s.hostErr != nil {
		return Health{State: StateBroken, Reason: "host links unreadable: " + s.hostErr.Error()}
	}
	br, ok := s.host[n.Bridge]
	switch {
	case !ok:
		v.miss(DamageNetwork, "bridge "+n.Bridge)
	case !br.Up:
		v.off(DamageNetwork, "bridge "+n.Bridge)
	}
	// The veth exists only while its peer's namespace does, and while
	// that namespace exists no other can have its inode: a veth there and
	// the recorded inode at the recorded path mean the very namespace the
	// endpoint was attached in.
	hv, ok := s.host[HostVethName(n, ep.ID)]
	switch {
	case !ok || !hv.Veth:
		if !ep.Alive() {
			return Health{State: StateStale, Reason: "namespace gone"}
		}
		v.miss(DamageLinks, "veth "+HostVethName(n, ep.ID))
	case !ep.Alive():
		return Health{State: StateStale, Reason: "namespace replaced"}
	default:
		if br.Index != 0 && hv.MasterIndex != br.Index {
			v.miss(DamageLinks, "veth "+hv.Name+" on bridge "+n.Bridge)
		}
		if !hv.Up {
			v.off(DamageLinks, "veth "+hv.Name)
		}
		s.peer(sv, ep, hv, &v)
	}
	s.rules(n, ep, &v)
	if ep.Kind != KindCNI && !s.m.NoDNS {
		switch {
		case s.silent:
			v.miss(DamageNames, "answers from the daemon (it runs and does not answer)")
		case !s.listening.Namespaces[ep.NamespaceKey()]:
			v.miss(DamageNames, "127.0.0.11 listener")
		}
	}
	return v.health(s.silent)
}

// peer checks the namespace side: the peer, up, with its address, and the
// default route the attach made.
func (s *survey) peer(sv Survey, ep *Endpoint, hv veth.HostEnd, v *verdict) {
	addrs, err := sv.PeerAddrs(hv.PeerNSID, hv.PeerIndex)
	if err != nil {
		v.miss(DamageLinks, "namespace unreadable: "+err.Error())
		return
	}
	if hv.Up && !hv.Carrier {
		// Both ends up make a veth's carrier: the peer is down.
		v.off(DamageLinks, "interface "+ep.IfName)
	}
	for _, ip := range ep.Addrs() {
		if !containsPrefix(addrs, ip) {
			v.miss(DamageLinks, "address "+ip.String())
		}
	}
	if (ep.DefaultRoute || ep.DefaultRoute6) && !s.hasRoute(sv, ep) {
		v.miss(DamageLinks, "default route")
	}
}

// rules finds the firewall rules of n and of ep's ports that are missing.
func (s *survey) rules(n *Network, ep *Endpoint, v *verdict) {
	switch {
	case s.fwErr != nil:
		v.miss(DamageNetwork, "firewall unreadable: "+s.fwErr.Error())
	case s.netRules[n.Name] != nil:
		v.miss(DamageNetwork, "rules of network "+n.Name)
	case len(ep.Ports) > 0:
		if err := s.fw.CheckEndpoint(n.firewall(), ep.ID, firewallPorts(ep)); err != nil {
			v.miss(DamagePorts, "published port rules")
		}
	}
}

// hasRoute reports whether ep's namespace has its default route via the
// gateway: as the daemon read it on the socket it keeps in a namespace it
// serves, else read here, which enters the namespace (routes cannot be
// read from outside).
func (s *survey) hasRoute(sv Survey, ep *Endpoint) bool {
	if s.listening.Namespaces[ep.NamespaceKey()] {
		return !s.listening.NoRoute[control.Key(ep.Network, ep.ID)]
	}
	n := s.nets[ep.Network]
	if ep.DefaultRoute {
		ok, err := sv.HasRoute(ep.NetNS, veth.Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: n.Gateway})
		if err != nil || !ok {
			return false
		}
	}
	if ep.DefaultRoute6 {
		ok, err := sv.HasRoute(ep.NetNS, veth.Route{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Gateway: n.Gateway6})
		if err != nil || !ok {
			return false
		}
	}
	return true
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
