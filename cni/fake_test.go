package cni

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/plumbnet/plumb/network"
	"github.com/plumbnet/plumb/veth"
)

// fake is an in-memory Backend: networks and attachments in maps, the
// addresses handed out in order. It records how it was opened and called.
type fake struct {
	nets     map[string]*network.Network
	atts     map[string]*network.CNIAttachment // by CNIEndpointID
	next     map[string]netip.Addr             // next address, by network
	stateDir string
	dns      bool
	calls    []string
	// err, when set, is returned by every call instead of doing anything.
	err error
	// panics makes every call panic.
	panics bool
	// lastAttach is the options of the last AttachCNI.
	lastAttach network.CNIAttachOptions
}

func newFake() *fake {
	return &fake{nets: map[string]*network.Network{}, atts: map[string]*network.CNIAttachment{}, next: map[string]netip.Addr{}}
}

func (f *fake) call(name string) error {
	f.calls = append(f.calls, name)
	if f.panics {
		panic("fake backend told to panic")
	}
	return f.err
}

// AttachCNI creates the network on first use (10.99.0.0/24 unless c
// gives a subnet) and hands out its addresses in order.
func (f *fake) AttachCNI(c network.CNINetwork, o network.CNIAttachOptions) (*network.CNIAttachment, error) {
	if err := f.call("attach"); err != nil {
		return nil, err
	}
	f.lastAttach = o
	n := f.network(c)
	netName := n.Name
	id := network.CNIEndpointID(o.ContainerID, o.IfName)
	if a := f.atts[id]; a != nil {
		return a, nil
	}
	ip := o.IP
	if !ip.IsValid() {
		ip = f.next[netName]
		f.next[netName] = ip.Next()
	}
	mac := o.MAC
	if mac == "" {
		mac = veth.MACFromIP(ip).String()
	}
	ep := &network.Endpoint{
		ID: id, Network: netName, Kind: network.KindCNI, ContainerID: o.ContainerID,
		NetNS: o.NetNS, IP: netip.PrefixFrom(ip, n.Subnet.Bits()), MAC: mac,
		HostVeth: "veth" + id[4:15], IfName: o.IfName, DefaultRoute: !n.Internal, Aliases: o.Aliases,
	}
	a := &network.CNIAttachment{Endpoint: ep, Network: n}
	f.atts[id] = a
	return a, nil
}

func (f *fake) DetachCNI(netName, containerID, ifname string) error {
	if err := f.call("detach"); err != nil {
		return err
	}
	delete(f.atts, network.CNIEndpointID(containerID, ifname))
	return nil
}

func (f *fake) CheckCNI(netName, containerID, ifname, netns string, exp network.CNIExpected) error {
	if err := f.call("check"); err != nil {
		return err
	}
	a := f.atts[network.CNIEndpointID(containerID, ifname)]
	if a == nil {
		return fmt.Errorf("container %s: %w", containerID, network.ErrUnknownAttachment)
	}
	if exp.IPs != nil && !slices.Contains(exp.IPs, a.Endpoint.IP) {
		return fmt.Errorf("prevResult gives %v, plumb gave %s", exp.IPs, a.Endpoint.IP)
	}
	if exp.MAC != "" && exp.MAC != a.Endpoint.MAC {
		return fmt.Errorf("prevResult gives MAC %s, plumb gave %s", exp.MAC, a.Endpoint.MAC)
	}
	return nil
}

func (f *fake) GCCNI(netName string, valid []network.CNIAttachmentRef) error {
	if err := f.call("gc"); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, v := range valid {
		keep[network.CNIEndpointID(v.ContainerID, v.IfName)] = true
	}
	for id, a := range f.atts {
		if a.Network.Name == netName && !keep[id] {
			delete(f.atts, id)
		}
	}
	return nil
}

func (f *fake) StatusCNI(c network.CNINetwork) error { return f.call("status") }

// network returns the fake's network c.Name, made from c the first time.
func (f *fake) network(c network.CNINetwork) *network.Network {
	if n := f.nets[c.Name]; n != nil {
		return n
	}
	n := &network.Network{Name: c.Name, Bridge: c.Bridge, Subnet: c.Subnet, Gateway: c.Gateway, MTU: 1500, ICC: true}
	if n.Bridge == "" {
		n.Bridge = network.BridgeName(c.Name)
	}
	if !n.Subnet.IsValid() {
		n.Subnet = netip.MustParsePrefix("10.99.0.0/24")
	}
	if !n.Gateway.IsValid() {
		n.Gateway = n.Subnet.Addr().Next()
	}
	if c.Internal != nil {
		n.Internal = *c.Internal
	}
	f.nets[c.Name] = n
	f.next[c.Name] = n.Gateway.Next()
	return n
}
