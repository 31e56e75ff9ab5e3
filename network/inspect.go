package network

import (
	"context"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/firewall"
)

// TargetEndpoints resolves spec as attach does and returns the target with
// the endpoints plumb made for it, one per network, by network name; none
// when plumb did not attach it. A spec that names nothing is an error
// naming it (container.ErrNotFound and friends). Only the endpoints of
// this very namespace are returned, told as attach and the stale check
// tell them (SameNS: the namespace cookie, never reused): the record of a
// restarted container, which keeps its id, is not the new namespace's.
// Equivalent to: `cat STATEDIR/networks/*/endpoints/KEY.json` and
// comparing each netnsCookie with the target's.
func (m *Manager) TargetEndpoints(ctx context.Context, spec string) (*container.Target, []*Endpoint, error) {
	t, err := m.targets().Resolve(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	nets, err := m.networkNames()
	if err != nil {
		return nil, nil, err
	}
	var eps []*Endpoint
	for _, n := range nets {
		if ep, err := m.Endpoint(n, t.Key); err == nil {
			eps = append(eps, ep)
		}
	}
	return t, m.liveIn(t.NetNSPath, eps), nil
}

// liveIn keeps the endpoints of eps attached in the namespace at path.
// A namespace that cannot be opened holds none.
func (m *Manager) liveIn(path string, eps []*Endpoint) []*Endpoint {
	if len(eps) == 0 {
		return nil
	}
	ns, err := m.links().OpenNS(path)
	if err != nil {
		return nil
	}
	defer ns.Close()
	var out []*Endpoint
	for _, ep := range eps {
		if ep.SameNS(ns) {
			out = append(out, ep)
		}
	}
	return out
}

// Firewall is the network in the firewall's terms: what its rules are
// made from (iptables.Rules).
func (n *Network) Firewall() firewall.Network { return n.firewall() }

// FirewallPorts are the endpoint's published ports in the firewall's
// terms: what its DNAT rules are made from (iptables.PortRules).
func (e *Endpoint) FirewallPorts() []firewall.Port { return firewallPorts(e) }
