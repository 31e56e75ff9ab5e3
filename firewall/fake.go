package firewall

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Fake is an in-memory Firewall for the unit tests of the packages that
// use one. It records which networks are ensured, with their config, and
// which ports each owner has published on each network, with the
// semantics of the iptables backend:
//
//   - every method validates its arguments as the backend does, with the
//     same errors (ErrInvalidNetwork, ErrInvalidPort);
//   - EnsureNetwork replaces the config of a network already ensured and
//     keeps the ports published on it;
//   - DeleteNetwork removes the network and the ports published on it;
//     DeleteNetwork and DeletePorts of what is gone are success;
//   - AddPorts appends, duplicates included (the caller guarantees owner
//     has no port published yet). It does not need n to be ensured: when
//     nothing of plumb's is there at all (no network ensured, no port
//     published), the backend finds its chains missing, ensures n and
//     publishes, and so does the Fake; otherwise the backend appends to
//     the chains that exist and leaves n as it was, and so does the Fake,
//     after which CheckNetwork(n) still fails;
//   - CheckNetwork fails unless n is ensured with a config that makes the
//     same rules (the subnets masked, Masquerade ignored where a family
//     does not masquerade, the gateway modes of each family compared as
//     they act); CheckEndpoint fails too when one of the ports is not
//     published, a port bound to [::1] excepted (the backend makes no rule
//     for it unless IPv6 is routed: the daemon's proxy serves it);
//   - IPv6: networks with Subnet6 and IPv6 ports are handled as the IPv4
//     ones; where the backend keeps the families apart (AddPorts on a host
//     that has one family's chains but not the other's) the Fake does not.
//
// It is a LocalnetGuard too, with the semantics of package
// firewall/nftables's: a set of guarded bridge names, independent of the
// networks (see fake_localnet.go).
//
// It is a Watcher too (see fake_watch.go): its writes, Flush and Changed
// wake every Watch.
//
// FailNext makes a method fail; Networks, Network, Ports, Guarded, Empty,
// String and Calls read the state. A Fake is safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	nets  map[string]Network
	ports map[string]map[string][]Port // network name -> owner -> ports, in AddPorts order
	fail  map[string][]error           // method -> the errors of its next calls
	calls []string

	guards map[string]bool // bridges whose localnet guard is in place

	watchers map[chan struct{}]bool // the wake-ups of the running Watch calls

	// RouteLocalnet, when set, tells DeleteLocalnetGuard whether an
	// interface of that name has route_localnet on, in which case it
	// refuses as the backend does; nil: never.
	RouteLocalnet func(bridge string) bool
}

var _ Firewall = (*Fake)(nil)

// NewFake returns a Fake with nothing ensured and nothing published.
func NewFake() *Fake {
	return &Fake{nets: map[string]Network{}, ports: map[string]map[string][]Port{}, fail: map[string][]error{}}
}

// methods are the methods FailNext accepts.
var methods = []string{"EnsureNetwork", "EnsureAll", "DeleteNetwork", "AddPorts", "DeletePorts", "CheckNetwork", "CheckEndpoint", "Snapshot",
	"EnsureLocalnetGuard", "DeleteLocalnetGuard", "CheckLocalnetGuard", "Watch"}

// FailNext makes the next call of method (a Firewall or LocalnetGuard
// method name, such as "AddPorts") return err, unwrapped, without changing
// anything. Calls queue: FailNext twice fails the next two calls. It panics
// on a name that is not such a method, so that a typo cannot make a test
// pass.
func (f *Fake) FailNext(method string, err error) {
	if !slices.Contains(methods, method) {
		panic(fmt.Sprintf("firewall.Fake.FailNext: no method %q (want one of %s)", method, strings.Join(methods, ", ")))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], err)
}

// begin records a call and returns the error FailNext queued for it, if
// any. The caller holds f.mu.
func (f *Fake) begin(method string, args ...string) error {
	f.calls = append(f.calls, strings.Join(append([]string{method}, args...), " "))
	q := f.fail[method]
	if len(q) == 0 {
		return nil
	}
	f.fail[method] = q[1:]
	return q[0]
}

// Backend returns "fake".
func (f *Fake) Backend() string { return "fake" }

// EnsureNetwork records n as ensured, replacing an older config of the
// same name.
func (f *Fake) EnsureNetwork(n Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("EnsureNetwork", n.Name); err != nil {
		return err
	}
	if err := n.Validate(); err != nil {
		return fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
	}
	if old, ok := f.nets[n.Name]; !ok || old != n {
		f.notify()
	}
	f.nets[n.Name] = n
	return nil
}

// EnsureAll records every network of nets as ensured and the ports of
// every owner of pubs as exactly those listed.
func (f *Fake) EnsureAll(nets []Network, pubs []Published) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("EnsureAll", fmt.Sprint(len(nets)), fmt.Sprint(len(pubs))); err != nil {
		return false, err
	}
	for _, n := range nets {
		if err := n.Validate(); err != nil {
			return false, fmt.Errorf("ensuring firewall rules of network %q: %w", n.Name, err)
		}
	}
	for _, pb := range pubs {
		if err := ValidatePorts(pb.Network.Name, pb.Owner, pb.Ports); err != nil {
			return false, err
		}
	}
	changed := false
	for _, n := range nets {
		if old, ok := f.nets[n.Name]; !ok || old != n {
			changed = true
		}
		f.nets[n.Name] = n
	}
	for _, pb := range pubs {
		if f.ports[pb.Network.Name] == nil {
			f.ports[pb.Network.Name] = map[string][]Port{}
		}
		if !slices.Equal(f.ports[pb.Network.Name][pb.Owner], pb.Ports) {
			changed = true
		}
		f.ports[pb.Network.Name][pb.Owner] = slices.Clone(pb.Ports)
	}
	if changed {
		f.notify()
	}
	return changed, nil
}

// DeleteNetwork forgets the network named name and the ports published on
// it. A network that is not there is success.
func (f *Fake) DeleteNetwork(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeleteNetwork", name); err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("deleting firewall rules of network %q: %w", name, err)
	}
	_, had := f.nets[name]
	if had || len(f.ports[name]) > 0 {
		f.notify()
	}
	delete(f.nets, name)
	delete(f.ports, name)
	return nil
}

// AddPorts records ports as published by owner on n (see Fake for when it
// ensures n too).
func (f *Fake) AddPorts(n Network, owner string, ports []Port) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	args := []string{n.Name, owner}
	for _, p := range ports {
		args = append(args, p.String())
	}
	if err := f.begin("AddPorts", args...); err != nil {
		return err
	}
	if err := ValidatePorts(n.Name, owner, ports); err != nil {
		return err
	}
	if len(ports) == 0 {
		return nil
	}
	makesRules := slices.ContainsFunc(ports, func(p Port) bool { return needsRule(n, p) })
	if makesRules && len(f.nets) == 0 && len(f.ports) == 0 {
		if err := n.Validate(); err != nil {
			return fmt.Errorf("publishing ports of %s: %w", owner, err)
		}
		f.nets[n.Name] = n
	}
	if f.ports[n.Name] == nil {
		f.ports[n.Name] = map[string][]Port{}
	}
	f.ports[n.Name][owner] = append(f.ports[n.Name][owner], ports...)
	f.notify()
	return nil
}

// DeletePorts forgets every port owner published on the network named
// network. Ports that are not there are success.
func (f *Fake) DeletePorts(network, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("DeletePorts", network, owner); err != nil {
		return err
	}
	if err := ValidatePorts(network, owner, nil); err != nil {
		return err
	}
	if len(f.ports[network][owner]) > 0 {
		f.notify()
	}
	delete(f.ports[network], owner)
	if len(f.ports[network]) == 0 {
		delete(f.ports, network)
	}
	return nil
}

// CheckNetwork fails unless n is ensured with a config that makes the same
// rules. It changes nothing.
func (f *Fake) CheckNetwork(n Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CheckNetwork", n.Name); err != nil {
		return err
	}
	return f.check(n, "", nil)
}

// CheckEndpoint is CheckNetwork, and fails too when one of ports is not
// published by owner on n. It changes nothing.
func (f *Fake) CheckEndpoint(n Network, owner string, ports []Port) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("CheckEndpoint", n.Name, owner); err != nil {
		return err
	}
	return f.check(n, owner, ports)
}

// Snapshot returns a Checker answering from the Fake's state at the time
// of the call. A FailNext("Snapshot") fails it.
func (f *Fake) Snapshot() (Checker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Snapshot"); err != nil {
		return nil, err
	}
	c := &Fake{nets: maps.Clone(f.nets), ports: map[string]map[string][]Port{}}
	for n, owners := range f.ports {
		c.ports[n] = maps.Clone(owners)
	}
	return fakeChecker{c}, nil
}

// fakeChecker is a frozen copy of a Fake: its checks leave no calls.
type fakeChecker struct{ f *Fake }

func (c fakeChecker) CheckNetwork(n Network) error { return c.f.check(n, "", nil) }

func (c fakeChecker) PortOwners() map[string][]string {
	out := map[string][]string{}
	for n, owners := range c.f.ports {
		for o := range owners {
			out[n] = append(out[n], o)
		}
		slices.Sort(out[n])
	}
	return out
}
func (c fakeChecker) CheckEndpoint(n Network, owner string, ports []Port) error {
	return c.f.check(n, owner, ports)
}

// check is CheckEndpoint under f.mu, with the backend's errors.
func (f *Fake) check(n Network, owner string, ports []Port) error {
	if err := n.Validate(); err != nil {
		return fmt.Errorf("checking firewall rules of network %q: %w", n.Name, err)
	}
	if len(ports) > 0 {
		if err := ValidatePorts(n.Name, owner, ports); err != nil {
			return err
		}
	}
	var problems []string
	if have, ok := f.nets[n.Name]; !ok {
		problems = append(problems, "network not ensured")
	} else if sameRules(have) != sameRules(n) {
		problems = append(problems, fmt.Sprintf("rules differ: ensured as %s", formatNetwork(have)))
	}
	for _, p := range ports {
		if needsRule(n, p) && !slices.ContainsFunc(f.ports[n.Name][owner], func(q Port) bool { return samePort(p, q) }) {
			problems = append(problems, fmt.Sprintf("port rule missing (%s of %s)", formatPort(p), owner))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("firewall rules of network %q are not in place: %s", n.Name, strings.Join(problems, "; "))
	}
	return nil
}

// sameRules returns what n's rules depend on, the rest normalized: two
// configs with equal results make the same rules. Per family, as the
// iptables backend has it: the subnet masked (zero when absent), the
// gateway mode ("" is nat; "blocked" when Internal or isolated; "" when
// the family is absent), whether it masquerades (Masq4, Masq6), and
// Internal only where it changes more than the modes do (IPv4's localhost
// guard).
func sameRules(n Network) ruleKey {
	mode := func(valid bool, m string) string {
		switch {
		case !valid:
			return ""
		case n.Internal || m == ModeIsolated:
			return "blocked"
		case m == "":
			return ModeNAT
		}
		return m
	}
	return ruleKey{
		name: n.Name, bridge: n.Bridge, icc: n.ICC,
		subnet: n.Subnet.Masked(), subnet6: n.Subnet6.Masked(),
		internal4: n.Internal && n.Subnet.IsValid(),
		masq4:     n.Masq4(), masq6: n.Masq6(),
		mode4: mode(n.Subnet.IsValid(), n.Mode4), mode6: mode(n.Subnet6.IsValid(), n.Mode6),
	}
}

// ruleKey is what a network's rules are made of (sameRules).
type ruleKey struct {
	name, bridge    string
	icc, internal4  bool
	subnet, subnet6 netip.Prefix
	masq4, masq6    bool
	mode4, mode6    string
}

// needsRule reports whether p, published on n, makes a rule: all but a
// port bound to [::1] (served by the daemon's proxy: IPv6 has no
// route_localnet) on a network whose IPv6 is not routed.
func needsRule(n Network, p Port) bool {
	return !(p.Is6() && p.HostIP.IsLoopback()) || (n.Mode6 == ModeRouted && !n.Internal)
}

// samePort reports whether p and q make the same rules: no host address
// and 0.0.0.0 are the same.
func samePort(p, q Port) bool {
	p.HostIP, q.HostIP = p.hostIP(), q.hostIP()
	return p == q
}
