package network

import (
	"context"

	"github.com/plumbnet/plumb/container"
	"github.com/plumbnet/plumb/firewall"
)

// TargetEndpoints resolves spec as attach does and returns the target with
// the endpoints plumb made for it, one per network, by network name; none
// when plumb did not attach it. A spec that names nothing is an error
// naming it (container.ErrNotFound and friends). Only live endpoints of
// this very namespace are returned: a stale record of an earlier namespace
// under the same name is not the target's.
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
	return t, eps, nil
}

// Firewall is the network in the firewall's terms: what its rules are
// made from (iptables.Rules).
func (n *Network) Firewall() firewall.Network { return n.firewall() }

// FirewallPorts are the endpoint's published ports in the firewall's
// terms: what its DNAT rules are made from (iptables.PortRules).
func (e *Endpoint) FirewallPorts() []firewall.Port { return firewallPorts(e) }
