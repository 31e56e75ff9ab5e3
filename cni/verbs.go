package cni

import (
	"context"
	"errors"
	"fmt"

	"github.com/plumbnet/plumb/network"
)

// The verbs over a Backend, once the config and the CNI_* variables are
// parsed and checked (plugin.go). Each returns a plain error; the plugin
// turns it into a CNI error object (errors.go).

// attachment is what an ADD asks: the pair (ContainerID, IfName), its
// namespace, and the attach options of the config and capabilities.
type attachment struct {
	ContainerID, IfName, NetNS string
	Options                    network.AttachOptions
}

// addVerb attaches the namespace to the network c describes. The network
// is created from c the way `plumb network create` would when it does not
// exist yet; one that exists, made by the CLI or by an earlier ADD, is
// used as it is, provided c asks for nothing it contradicts (ErrInvalid).
// Two plugins racing to create one network both go on with the one that
// won. Adding a pair that is attached already returns its endpoint.
func addVerb(b Backend, c netSpec, a attachment) (*network.Endpoint, *network.Network, error) {
	if a.NetNS == "" {
		return nil, nil, fmt.Errorf("%w: CNI_NETNS is empty", network.ErrNetNS)
	}
	if a.IfName == "" {
		return nil, nil, fmt.Errorf("interface name: %w: CNI_IFNAME is empty", network.ErrInvalid)
	}
	t := network.NamespaceTarget{
		ID: EndpointID(a.ContainerID, a.IfName), Spec: "cni:" + a.ContainerID, Kind: network.KindCNI,
		NetNS: a.NetNS, ContainerID: a.ContainerID,
	}
	o := a.Options
	o.Network, o.IfName, o.Check = c.Name, a.IfName, c.conflicts
	ep, n, err := b.AttachNamespace(context.Background(), t, o)
	if errors.Is(err, network.ErrNotFound) {
		if _, err := b.Create(c.createOptions()); err != nil && !errors.Is(err, network.ErrExists) {
			return nil, nil, err
		}
		ep, n, err = b.AttachNamespace(context.Background(), t, o)
	}
	return ep, n, err
}

// delVerb removes the attachment (containerID, ifname) from netName. It
// succeeds when there is nothing (left) to remove.
func delVerb(b Backend, netName, containerID, ifname string) error {
	return b.DetachID(netName, EndpointID(containerID, ifname))
}

// checkVerb verifies the attachment against the state, the kernel and
// what the prevResult says (want).
func checkVerb(b Backend, netName, containerID, ifname, netns string, want network.Expect) error {
	err := b.Verify(netName, EndpointID(containerID, ifname), netns, want)
	if errors.Is(err, network.ErrNotAttached) {
		return fmt.Errorf("container %s (%s): %w on network %q", containerID, ifname, errUnknown, netName)
	}
	return err
}

// errUnknown is a CHECK of an attachment plumb has no record of.
var errUnknown = errors.New("unknown CNI attachment")

// gcVerb releases every CNI attachment of netName that valid does not
// list, and never one it lists; endpoints the CLI attached are kept.
func gcVerb(b Backend, netName string, valid [][2]string) error {
	keep := map[string]bool{}
	for _, v := range valid {
		keep[EndpointID(v[0], v[1])] = true
	}
	return b.Collect(netName, isAttachment, func(id string) bool { return keep[id] })
}

// statusVerb reports whether an ADD to the network c describes could
// succeed now.
func statusVerb(b Backend, c netSpec) error {
	return b.Status(c.Name, c.Bridge, c.conflicts)
}
