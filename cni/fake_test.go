package cni

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/veth"
)

// fake is an in-memory Backend: networks and endpoints in maps, the
// addresses handed out in order. It records how it was opened and called.
type fake struct {
	nets     map[string]*network.Network
	eps      map[string]*network.Endpoint // by endpoint id
	next     map[string]netip.Addr        // next address, by network
	stateDir string
	dns      bool
	calls    []string
	// err, when set, is returned by every call instead of doing anything.
	err error
	// panics makes every call panic.
	panics bool
	// lastAttach is the options of the last AttachNamespace.
	lastAttach network.AttachOptions
}

func newFake() *fake {
	return &fake{nets: map[string]*network.Network{}, eps: map[string]*network.Endpoint{}, next: map[string]netip.Addr{}}
}

func (f *fake) call(name string) error {
	f.calls = append(f.calls, name)
	if f.panics {
		panic("fake backend told to panic")
	}
	return f.err
}

// Create makes network o.Name (10.99.0.0/24 unless o gives a subnet).
func (f *fake) Create(o network.CreateOptions) (*network.Network, error) {
	if err := f.call("create"); err != nil {
		return nil, err
	}
	if f.nets[o.Name] != nil {
		return nil, fmt.Errorf("network %q %w", o.Name, network.ErrExists)
	}
	n := &network.Network{Name: o.Name, Bridge: o.Bridge, Subnet: o.Subnet, Gateway: o.Gateway, MTU: 1500,
		ICC: o.ICC, Internal: o.Internal, Masquerade: o.Masquerade}
	if n.Bridge == "" {
		n.Bridge = network.BridgeName(o.Name)
	}
	if !n.Subnet.IsValid() {
		n.Subnet = netip.MustParsePrefix("10.99.0.0/24")
	}
	if !n.Gateway.IsValid() {
		n.Gateway = n.Subnet.Addr().Next()
	}
	f.nets[o.Name] = n
	f.next[o.Name] = n.Gateway.Next()
	return n, nil
}

// AttachNamespace hands out the network's addresses in order.
func (f *fake) AttachNamespace(_ context.Context, t network.NamespaceTarget, o network.AttachOptions) (*network.Endpoint, *network.Network, error) {
	if err := f.call("attach"); err != nil {
		return nil, nil, err
	}
	n := f.nets[o.Network]
	if n == nil {
		return nil, nil, fmt.Errorf("network %q %w", o.Network, network.ErrNotFound)
	}
	if o.Check != nil {
		if err := o.Check(n); err != nil {
			return nil, nil, err
		}
	}
	f.lastAttach = o
	if ep := f.eps[t.ID]; ep != nil {
		return ep, n, nil
	}
	ip := o.IP
	if !ip.IsValid() {
		ip = f.next[n.Name]
		f.next[n.Name] = ip.Next()
	}
	mac := o.MAC
	if mac == "" {
		mac = veth.MACFromIP(ip).String()
	}
	ep := &network.Endpoint{
		ID: t.ID, Network: n.Name, Kind: t.Kind, ContainerID: t.ContainerID,
		NetNS: t.NetNS, IP: netip.PrefixFrom(ip, n.Subnet.Bits()), MAC: mac,
		HostVeth: network.HostVethName(n, t.ID), IfName: o.IfName, DefaultRoute: !n.Internal, Aliases: o.Aliases,
	}
	f.eps[t.ID] = ep
	return ep, n, nil
}

func (f *fake) DetachID(netName, id string) error {
	if err := f.call("detach"); err != nil {
		return err
	}
	delete(f.eps, id)
	return nil
}

func (f *fake) Verify(netName, id, netns string, want network.Expect) error {
	if err := f.call("check"); err != nil {
		return err
	}
	ep := f.eps[id]
	if ep == nil {
		return fmt.Errorf("endpoint %s %w", id, network.ErrNotAttached)
	}
	if want.IPs != nil && !slices.Contains(want.IPs, ep.IP) {
		return fmt.Errorf("prevResult gives %v, plumb gave %s", want.IPs, ep.IP)
	}
	if want.MAC != "" && want.MAC != ep.MAC {
		return fmt.Errorf("prevResult gives MAC %s, plumb gave %s", want.MAC, ep.MAC)
	}
	return nil
}

func (f *fake) Collect(netName string, ours, keep func(string) bool) error {
	if err := f.call("gc"); err != nil {
		return err
	}
	for id, ep := range f.eps {
		if ep.Network == netName && ours(id) && !keep(id) {
			delete(f.eps, id)
		}
	}
	return nil
}

func (f *fake) Status(name, bridge string, check func(*network.Network) error) error {
	if err := f.call("status"); err != nil {
		return err
	}
	if n := f.nets[name]; n != nil && check != nil {
		return check(n)
	}
	return nil
}
